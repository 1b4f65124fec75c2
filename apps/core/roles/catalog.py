"""Catalog reads behind the grants and the drift check (any login may run them)."""

from __future__ import annotations

from dataclasses import dataclass

from . import config

RELATIONS_SQL = """
SELECT c.oid::bigint, n.nspname, c.relname, c.relkind, c.relispartition,
       CASE WHEN c.relispartition THEN (SELECT r.relname FROM pg_class r
                                         WHERE r.oid = pg_partition_root(c.oid)) END,
       pg_get_userbyid(c.relowner)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')  -- extensions' objects: theirs
ORDER BY n.nspname, c.relname
"""

PRIVILEGES_SQL = """
SELECT c.oid::bigint, ro.role, p.priv
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(%(roles)s::text[]) ro(role)
CROSS JOIN LATERAL unnest(CASE WHEN c.relkind = 'S' THEN ARRAY['USAGE', 'SELECT', 'UPDATE']
    ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'] END) p(priv)
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ro.role)
  AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(ro.role, c.oid, p.priv)
           ELSE has_table_privilege(ro.role, c.oid, p.priv) END
"""

# Every relation of every schema whose columns a role can read at all (table or column grants).
READABLE_SQL = """
SELECT n.nspname, c.relname,
       CASE WHEN c.relispartition THEN (SELECT r.relname FROM pg_class r
                                         WHERE r.oid = pg_partition_root(c.oid)) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND (n.nspname <> 'pg_catalog' OR c.relname IN ('pg_authid', 'pg_shadow', 'pg_statistic',
                                                  'pg_user_mapping'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
  AND has_any_column_privilege(%s, c.oid, 'SELECT')
"""

ROLE_SQL = """
SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin
FROM pg_roles WHERE rolname = ANY(%s)
"""

MEMBER_OF_SQL = """
SELECT r.rolname FROM pg_roles r
WHERE r.rolname = ANY(%(targets)s) AND r.rolname <> %(role)s
  AND pg_has_role(%(role)s, r.oid, 'MEMBER')
"""

SCHEMA_CREATE_SQL = """
SELECT n.nspname FROM pg_namespace n
WHERE n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
  AND has_schema_privilege(%s, n.oid, 'CREATE')
ORDER BY 1
"""

OWNED_SQL = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %s)
  AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
"""

DEFAULT_ACL_SQL = """
SELECT n.nspname, d.defaclobjtype, a.grantee::regrole::text, a.privilege_type
FROM pg_default_acl d
JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) a
WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = %s) AND a.grantee <> 0
"""

FUNCTIONS_SQL = """
SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef,
       coalesce(array_to_string(p.proconfig, ','), ''),
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec,
       ARRAY(SELECT ro FROM unnest(%(roles)s::text[]) ro
             WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ro)
               AND has_function_privilege(ro, p.oid, 'EXECUTE'))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname = ANY(%(names)s)
"""


@dataclass(frozen=True)
class Relation:
    oid: int
    schema: str
    name: str
    kind: str
    is_partition: bool
    root: str | None
    owner: str

    @property
    def qualified(self) -> str:
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    @property
    def root_name(self) -> str:
        return self.root or self.name


def managed_schemas(cursor) -> list[str]:
    cursor.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(config.MANAGED_SCHEMAS)]
    )
    return sorted(row[0] for row in cursor.fetchall())


def relations(cursor, schemas: list[str]) -> list[Relation]:
    cursor.execute(RELATIONS_SQL, [schemas])
    return [Relation(*row) for row in cursor.fetchall()]


def privileges(cursor, schemas: list[str], roles: list[str]) -> dict[tuple[int, str], set[str]]:
    cursor.execute(PRIVILEGES_SQL, {"roles": roles, "schemas": schemas})
    found: dict[tuple[int, str], set[str]] = {}
    for oid, role, priv in cursor.fetchall():
        found.setdefault((oid, role), set()).add(priv)
    return found


def expected_privileges(relation: Relation, r: config.Roles) -> dict[str, set[str]]:
    """What the app, read-only and monitor roles should hold on one relation of a managed schema."""
    app: set[str]
    if relation.kind == "S":
        app = {"USAGE", "SELECT"} if relation.schema == "public" else set()
    elif relation.kind in ("v", "m") or relation.schema != "public":
        app = {"SELECT"}
    elif relation.root_name in config.APPEND_ONLY_TABLES:
        app = {"SELECT", "INSERT"}
    else:
        app = {"SELECT", "INSERT", "UPDATE", "DELETE"}
    readonly = (
        {"SELECT"}
        if relation.kind != "S"
        and not relation.is_partition
        and config.readonly_may_read(relation.name, relation.kind)
        else set()
    )
    return {r.app: app, r.all_projects: app, r.readonly: readonly, r.monitor: set()}
