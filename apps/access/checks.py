"""Row-level security as declared, seen from the database (`manage.py check --database default`)."""

from __future__ import annotations

from django.core.checks import Error, Tags, register
from django.db import connections

from apps.core.roles import config as roles_config

from . import policies

TABLES_SQL = """
SELECT c.relname, c.relrowsecurity,
       ARRAY(SELECT p.polname FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1),
       ARRAY(SELECT l.relid::regclass::text FROM pg_partition_tree(c.oid) l
             JOIN pg_class lc ON lc.oid = l.relid WHERE l.relid <> c.oid AND NOT lc.relrowsecurity)
FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s)
"""
# A default for the scope settings (ALTER ROLE/DATABASE … SET) would turn "none set" into a scope.
DEFAULTS_SQL = """
SELECT coalesce(r.rolname, '(every role)'), s.setconfig
FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
WHERE EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE 'flowbase.%%project_ids=%%')
"""
MEMBER_SQL = """
SELECT pg_has_role(%(app)s, %(bypass)s, 'MEMBER'),
       EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = (SELECT oid FROM pg_roles WHERE
               rolname = %(bypass)s) AND m.member = (SELECT oid FROM pg_roles WHERE rolname =
               %(app)s) AND m.admin_option)
"""


def rls_problems(using: str = "default") -> list[str]:
    r = roles_config.roles()
    declared = {policies.table_of(p): p for p in policies.POLICIES}
    problems = []
    with connections[using].cursor() as cursor:
        cursor.execute(TABLES_SQL, [list(declared)])
        found = {row[0]: row for row in cursor.fetchall()}
        for table, policy in declared.items():
            if table not in found:
                continue  # not migrated yet: migrate reports that
            _, enabled, names, open_partitions = found[table]
            if not enabled:
                problems.append(f"row-level security is off on {table}")
            missing = policies.policy_names(policy) - set(names)
            if missing:
                problems.append(f"{table} lacks the policies {', '.join(sorted(missing))}")
            if open_partitions:
                problems.append(
                    f"partitions of {table} readable directly without row-level security: "
                    + ", ".join(open_partitions[:5])
                )
        cursor.execute(DEFAULTS_SQL)
        for role, config in cursor.fetchall():
            problems.append(f"{role} has a default row scope ({', '.join(config)})")
        cursor.execute(MEMBER_SQL, {"app": r.app, "bypass": r.all_projects})
        row = cursor.fetchone()
        if row and not row[0]:
            problems.append(f"{r.app} may not enter {r.all_projects}: jobs would see no row")
        if row and row[1]:
            problems.append(f"{r.app} holds {r.all_projects} WITH ADMIN OPTION")
    return problems


@register(Tags.database)
def row_level_security_check(app_configs=None, databases=None, **kwargs):
    if not databases or "default" not in databases:
        return []
    return [
        Error(
            p,
            hint="run `manage.py migrate --database owner` and `db_roles --apply`",
            id="access.E001",
        )
        for p in rls_problems()
    ]
