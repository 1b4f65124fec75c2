"""The drift check: what is wrong with the roles as seen from one connection's catalog.

Used by `manage.py db_roles --check` and by the `database`-tagged system check. Every problem
is a sentence naming the role and the object, with a stable id.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections

from . import catalog, config, sql

MAX_DRIFT_LINES = 40


@dataclass(frozen=True)
class Problem:
    id: str
    message: str
    hint: str = ""


def _app_login(cursor, r: config.Roles, role: str | None = None) -> list[Problem]:
    """The connection's own login (or `role`, examined from another connection)."""
    cursor.execute("SELECT current_user, session_user")
    current, session = cursor.fetchone()
    if current == r.all_projects:  # an unscoped transaction switched roles; judge the login
        current = session
    if role is not None:
        current = session = role
    problems = []
    cursor.execute(catalog.ROLE_SQL, [[current, session]])
    for name, superuser, createdb, createrole, replication, bypassrls, _ in cursor.fetchall():
        flags = [
            label
            for label, on in (
                ("SUPERUSER", superuser),
                ("CREATEDB", createdb),
                ("CREATEROLE", createrole),
                ("REPLICATION", replication),
                ("BYPASSRLS", bypassrls),
            )
            if on
        ]
        if flags:
            problems.append(
                Problem(
                    "flowbase.E101",
                    f"the app's connection runs as {name}, which has {', '.join(flags)}",
                    f"connect the app (DATABASE_URL) as {r.app}",
                )
            )
    if current != r.app:
        problems.append(
            Problem(
                "flowbase.E102",
                f"the app's connection runs as {current}, not as the app role {r.app}",
                "DATABASE_URL must be the app role's login; the owner is for migrate/maintenance",
            )
        )
    problems += _memberships(cursor, current, r, allowed=())
    problems += _memberships(cursor, r.all_projects, r, allowed=())
    cursor.execute(catalog.SCHEMA_CREATE_SQL, [current])
    schemas = [row[0] for row in cursor.fetchall()]
    if schemas:
        problems.append(
            Problem(
                "flowbase.E103",
                f"the app's role {current} can run DDL: CREATE on schema(s) {', '.join(schemas)}",
                "db_roles --apply revokes it",
            )
        )
    cursor.execute("SELECT has_database_privilege(%s, current_database(), 'CREATE')", [current])
    if cursor.fetchone()[0]:
        problems.append(
            Problem(
                "flowbase.E103",
                f"the app's role {current} can create schemas in this database",
                "db_roles --apply revokes it",
            )
        )
    cursor.execute(catalog.OWNED_SQL, [current])
    owned = cursor.fetchone()[0]
    if owned:
        problems.append(
            Problem(
                "flowbase.E104",
                f"the app's role {current} owns {owned} relation(s) (it can ALTER and DROP them)",
                f"ALTER … OWNER TO {r.owner}, or db_roles --apply --reassign-from {current}",
            )
        )
    return problems


def _memberships(cursor, role: str, r: config.Roles, *, allowed: tuple[str, ...]) -> list[Problem]:
    targets = [x for x in (*config.DANGEROUS_ROLES, r.owner, r.signal) if x not in allowed]
    cursor.execute(catalog.MEMBER_OF_SQL, {"targets": targets, "role": role})
    bad = sorted(row[0] for row in cursor.fetchall())
    cursor.execute(
        "SELECT r.rolname FROM pg_roles r WHERE r.rolsuper AND r.rolname <> %(role)s"
        " AND pg_has_role(%(role)s, r.oid, 'MEMBER')",
        {"role": role},
    )
    bad += sorted(row[0] for row in cursor.fetchall())
    if not bad:
        return []
    return [
        Problem(
            "flowbase.E105",
            f"role {role} has the privileges of {', '.join(bad)}",
            f"REVOKE {', '.join(bad)} FROM {role}",
        )
    ]


def _roles_exist(cursor, r: config.Roles) -> list[Problem]:
    cursor.execute(catalog.ROLE_SQL, [list(r.all())])
    found = {row[0]: row for row in cursor.fetchall()}
    problems = [
        Problem(
            "flowbase.E100",
            f"role {name} does not exist",
            "run `manage.py db_roles --apply --admin-url …` (see docs/security.md)",
        )
        for name in r.all()
        if name not in found
    ]
    for name in (r.readonly, r.monitor):
        row = found.get(name)
        if row and any(row[1:6]):
            problems.append(
                Problem("flowbase.E106", f"role {name} has SUPERUSER/CREATEDB/CREATEROLE/…")
            )
    cursor.execute(
        "SELECT m.rolname FROM pg_roles m WHERE m.rolname <> %(bypass)s"
        " AND pg_has_role(m.oid, %(bypass)s, 'MEMBER') AND NOT m.rolsuper",
        {"bypass": r.all_projects},
    )
    others = sorted(row[0] for row in cursor.fetchall() if row[0] not in (r.app,))
    if others:
        problems.append(
            Problem(
                "flowbase.E108",
                f"{', '.join(others)} may enter {r.all_projects}, which bypasses row-level security",
                f"REVOKE {r.all_projects} FROM {', '.join(others)}",
            )
        )
    row = found.get(r.all_projects)
    # rolname, super, createdb, createrole, replication, bypassrls, canlogin
    if row and (any(row[1:5]) or not row[5] or row[6]):
        problems.append(
            Problem(
                "flowbase.E107",
                f"role {r.all_projects} must be NOLOGIN and BYPASSRLS with no other attribute",
                "run `manage.py db_roles --apply --admin-url …` (BYPASSRLS needs a superuser)",
            )
        )
    return problems


def _readonly(cursor, r: config.Roles) -> list[Problem]:
    problems = _memberships(cursor, r.readonly, r, allowed=())
    cursor.execute(catalog.READABLE_SQL, [r.readonly])
    leaks = sorted(
        f"{schema}.{name}"
        for schema, name, root in cursor.fetchall()
        if config.is_sensitive(name)
        or (root and config.is_sensitive(root))
        or schema == "pg_catalog"
    )
    if leaks:
        problems.append(
            Problem(
                "flowbase.E110",
                f"the read-only role {r.readonly} can read sensitive table(s): {', '.join(leaks[:20])}",
                f"REVOKE ALL ON … FROM {r.readonly}; db_roles --apply resets the grants",
            )
        )
    cursor.execute(catalog.SCHEMA_CREATE_SQL, [r.readonly])
    schemas = [row[0] for row in cursor.fetchall()]
    if schemas:
        problems.append(
            Problem("flowbase.E111", f"{r.readonly} has CREATE on schema(s) {', '.join(schemas)}")
        )
    return problems


def _monitor(cursor, r: config.Roles) -> list[Problem]:
    problems = _memberships(
        cursor,
        r.monitor,
        r,
        allowed=("pg_monitor", "pg_read_all_stats", "pg_read_all_settings", "pg_stat_scan_tables"),
    )
    cursor.execute(catalog.READABLE_SQL, [r.monitor])
    readable = sorted(f"{s}.{n}" for s, n, _ in cursor.fetchall())
    if readable:
        problems.append(
            Problem(
                "flowbase.E112",
                f"the monitor role {r.monitor} can read table(s) {', '.join(readable[:20])}",
                "it only needs the catalog and the statistics views",
            )
        )
    return problems


def _drift(cursor, r: config.Roles) -> list[Problem]:
    schemas = catalog.managed_schemas(cursor)
    relations = catalog.relations(cursor, schemas)
    actual = catalog.privileges(cursor, schemas, list(r.granted()))
    lines = []
    not_owned = [rel.qualified for rel in relations if rel.owner != r.owner]
    problems = []
    if not_owned:
        problems.append(
            Problem(
                "flowbase.E120",
                f"{len(not_owned)} relation(s) not owned by {r.owner}: {', '.join(not_owned[:10])}",
                "db_roles --apply --admin-url … --reassign-from <old owner>",
            )
        )
    for rel in relations:
        for role, want in catalog.expected_privileges(rel, r).items():
            have = actual.get((rel.oid, role), set())
            if have - want:
                lines.append(
                    f"{role} has extra {', '.join(sorted(have - want))} on {rel.qualified}"
                )
            if want - have:
                lines.append(
                    f"{role} is missing {', '.join(sorted(want - have))} on {rel.qualified}"
                )
    if lines:
        more = f" (and {len(lines) - MAX_DRIFT_LINES} more)" if len(lines) > MAX_DRIFT_LINES else ""
        problems.append(
            Problem(
                "flowbase.E121",
                "grants drifted: " + "; ".join(lines[:MAX_DRIFT_LINES]) + more,
                "run `manage.py db_roles --apply` (as the owner)",
            )
        )
    problems += _default_privileges(cursor, r, schemas)
    problems += _functions(cursor, r)
    return problems


_OBJTYPE = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}


def _default_privileges(cursor, r: config.Roles, schemas: list[str]) -> list[Problem]:
    cursor.execute(catalog.DEFAULT_ACL_SQL, [r.owner])
    have: dict[tuple[str, str, str], set[str]] = {}
    for schema, objtype, grantee, privilege in cursor.fetchall():
        have.setdefault((schema, _OBJTYPE.get(objtype, objtype), grantee), set()).add(privilege)
    lines = []
    for schema in schemas:
        for kind, want in sql.expected_default_privileges(schema).items():
            for role in r.app_like():
                got = have.pop((schema, kind, role), set())
                if got != want:
                    lines.append(
                        f"new {kind.lower()} in {schema} give {role} {sorted(got) or 'nothing'}, "
                        f"expected {sorted(want) or 'nothing'}"
                    )
    for (schema, kind, grantee), got in sorted(have.items()):
        if grantee in (*r.granted(), "-"):
            lines.append(f"new {kind.lower()} in {schema} give {grantee} {sorted(got)}")
    if not lines:
        return []
    return [
        Problem(
            "flowbase.E122",
            "default privileges of the owner drifted: " + "; ".join(lines),
            "run `manage.py db_roles --apply`",
        )
    ]


def _functions(cursor, r: config.Roles) -> list[Problem]:
    cursor.execute(
        catalog.FUNCTIONS_SQL,
        {
            "roles": list(r.granted()),
            "names": [config.SIGNAL_FUNCTION, config.DEFAULT_ROWS_FUNCTION],
        },
    )
    found = {row[0]: row for row in cursor.fetchall()}
    expected = {
        config.SIGNAL_FUNCTION: (r.signal, list(r.app_like())),
        config.DEFAULT_ROWS_FUNCTION: (r.owner, [r.monitor]),
    }
    problems = []
    for name, (owner, callers) in expected.items():
        row = found.get(name)
        if row is None:
            if name == config.SIGNAL_FUNCTION:
                problems.append(
                    Problem(
                        "flowbase.E130",
                        f"function {name} is missing (cancel/terminate cannot work)",
                        "run `manage.py db_roles --apply --admin-url …`",
                    )
                )
            continue
        _, fn_owner, secdef, config_, public_exec, executors = row
        if fn_owner != owner or not secdef or "search_path=" not in config_:
            problems.append(
                Problem(
                    "flowbase.E131",
                    f"function {name} must be SECURITY DEFINER with a fixed search_path, owned by {owner}",
                )
            )
        if public_exec or sorted(executors) != sorted(callers):
            problems.append(
                Problem(
                    "flowbase.E132",
                    f"function {name} is executable by {'PUBLIC, ' if public_exec else ''}"
                    f"{', '.join(executors) or 'nobody'}; expected only {', '.join(callers)}",
                    "run `manage.py db_roles --apply`",
                )
            )
    return problems


def problems(
    using: str = "default", *, app_login: bool = True, app_role: str | None = None
) -> list[Problem]:
    """Everything wrong, read through `using`. `app_login`: that connection is the app's, so
    its own login is checked too (superuser, DDL, memberships, ownership); `app_role`: check
    that role instead of the connection's (from another connection)."""
    r = config.roles()
    with connections[using].cursor() as cursor:
        found = _roles_exist(cursor, r)
        if app_login or app_role:
            found += _app_login(cursor, r, app_role)
        if any(p.id == "flowbase.E100" for p in found):
            return found
        found += _readonly(cursor, r)
        found += _monitor(cursor, r)
        found += _drift(cursor, r)
    return found
