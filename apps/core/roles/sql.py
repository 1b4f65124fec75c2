"""The SQL of the roles: bootstrap (as an admin) and grants (as the owner), as plain strings.

Identifiers are role and schema names from settings, quoted with `quote()`; nothing here comes
from a request. Every statement is idempotent, so the same script serves `db_roles --apply`,
its dry run, `make run` on the local cluster and the Docker init script.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable

from . import config

_SAFE = re.compile(r"^[a-z_][a-z0-9_]*$")


def quote(name: str) -> str:
    if _SAFE.match(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scram_verifier(password: str, *, iterations: int = 4096) -> str:
    """A SCRAM-SHA-256 verifier, so the cleartext never reaches the server (nor its logs, nor
    pg_stat_statements, which keeps utility statements verbatim)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


# --- bootstrap (admin) ------------------------------------------------------------------------


def create_roles(r: config.Roles) -> str:
    lines = [
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(name)}) THEN "
        f"CREATE ROLE {quote(name)}; END IF;"
        for name in r.all()
    ]
    return "DO $$\nBEGIN\n" + "\n".join(lines) + "\nEND $$"


def role_attributes(r: config.Roles, *, owner_createdb: bool) -> list[str]:
    never = "NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    createdb = "CREATEDB" if owner_createdb else "NOCREATEDB"
    return [
        f"ALTER ROLE {quote(r.owner)} LOGIN INHERIT {createdb} {never}",
        f"ALTER ROLE {quote(r.app)} LOGIN NOINHERIT NOCREATEDB {never}",
        f"ALTER ROLE {quote(r.readonly)} LOGIN NOINHERIT NOCREATEDB {never}",
        f"ALTER ROLE {quote(r.monitor)} LOGIN INHERIT NOCREATEDB {never}",
        f"ALTER ROLE {quote(r.signal)} NOLOGIN INHERIT NOCREATEDB {never}",
        # Row-level security's only bypass: a NOLOGIN role the app enters per transaction.
        f"ALTER ROLE {quote(r.all_projects)} NOLOGIN NOINHERIT NOCREATEDB NOSUPERUSER "
        "NOCREATEROLE NOREPLICATION BYPASSRLS",
        f"GRANT {quote(r.all_projects)} TO {quote(r.app)}",
        # Belt and braces for the sandbox: whatever a client asks, read-only and bounded.
        f"ALTER ROLE {quote(r.readonly)} SET default_transaction_read_only = on",
        f"ALTER ROLE {quote(r.readonly)} SET statement_timeout = '60s'",
        f"ALTER ROLE {quote(r.readonly)} SET idle_in_transaction_session_timeout = '60s'",
        f"ALTER ROLE {quote(r.monitor)} SET default_transaction_read_only = on",
        f"ALTER ROLE {quote(r.monitor)} SET statement_timeout = '60s'",
        f"GRANT pg_monitor TO {quote(r.monitor)}",
        f"GRANT pg_signal_backend TO {quote(r.signal)}",
        # Only so the signal function can see a target's backend type (hidden from others).
        f"GRANT pg_read_all_stats TO {quote(r.signal)}",
    ]


def admin_memberships(r: config.Roles) -> str:
    """A non-superuser admin (managed PostgreSQL) must be a member of the owner and signal
    roles to hand them objects; a superuser needs nothing."""
    grants = "\n".join(
        f"    EXECUTE format('GRANT %I TO %I', {literal(name)}, current_user);"
        for name in (r.owner, r.signal)
    )
    return (
        "DO $$\nBEGIN\n  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN\n"
        f"{grants}\n  END IF;\nEND $$"
    )


def database_ownership(r: config.Roles) -> list[str]:
    return [
        "DO $$\nBEGIN\n"
        f"  EXECUTE format('ALTER DATABASE %I OWNER TO %I', current_database(), {literal(r.owner)});\n"
        "END $$",
        f"ALTER SCHEMA public OWNER TO {quote(r.owner)}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    ]


def extensions() -> list[str]:
    required = [f"CREATE EXTENSION IF NOT EXISTS {quote(name)}" for name in config.EXTENSIONS]
    optional = [
        "DO $$\nBEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = {literal(name)}) THEN\n"
        f"    CREATE EXTENSION IF NOT EXISTS {quote(name)};\n"
        "  END IF;\nEND $$"
        for name in config.OPTIONAL_EXTENSIONS
    ]
    return required + optional


def signal_function(r: config.Roles) -> list[str]:
    """The only path from the app to pg_cancel/terminate_backend: runs as the signal role
    (pg_signal_backend), refuses superusers, the owner and its logins, other databases and
    non-client backends, and leaves a line in the server log for every call."""
    fn = f"public.{config.SIGNAL_FUNCTION}(integer, text)"
    body = f"""
DECLARE
    target record;
BEGIN
    IF action NOT IN ('cancel', 'terminate') THEN
        RAISE EXCEPTION 'action must be cancel or terminate, not %', action
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT a.pid, a.usesysid, a.usename, a.backend_type, a.datname INTO target
    FROM pg_stat_activity a WHERE a.pid = target_pid;
    IF NOT FOUND OR target.datname IS DISTINCT FROM current_database()
       OR target.backend_type IS DISTINCT FROM 'client backend' OR target_pid = pg_backend_pid() THEN
        RETURN false;
    END IF;
    IF target.usesysid IS NULL
       OR (SELECT rolsuper FROM pg_roles WHERE oid = target.usesysid)
       OR pg_has_role(target.usesysid, {literal(r.owner)}, 'MEMBER')
       OR pg_has_role(target.usesysid, {literal(r.signal)}, 'MEMBER') THEN
        RAISE EXCEPTION 'refused: backend % belongs to a protected role (%)', target_pid, target.usename
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE LOG 'flowbase: % backend % (role %) requested by %', action, target_pid, target.usename, session_user;
    IF action = 'cancel' THEN
        RETURN pg_cancel_backend(target_pid);
    END IF;
    RETURN pg_terminate_backend(target_pid);
END
"""
    return [
        f"CREATE OR REPLACE FUNCTION public.{config.SIGNAL_FUNCTION}(target_pid integer, action text)\n"
        "RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER\n"
        f"SET search_path = pg_catalog, pg_temp\nAS $fn${body}$fn$",
        f"ALTER FUNCTION {fn} OWNER TO {quote(r.signal)}",
        f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {fn} TO {quote(r.app)}, {quote(r.all_projects)}",
    ]


def legacy_reassign(legacy: str, r: config.Roles) -> list[str]:
    """A cluster from before the roles: its superuser login owned everything. Hand it all to
    the owner and stop that login from being used."""
    return [
        f"REASSIGN OWNED BY {quote(legacy)} TO {quote(r.owner)}",
        f"ALTER ROLE {quote(legacy)} NOLOGIN NOSUPERUSER",
    ]


def bootstrap(
    r: config.Roles,
    *,
    owner_createdb: bool = False,
    template: bool = False,
    legacy_role: str | None = None,
) -> list[str]:
    """Everything only an admin may do, for the database the session is connected to.
    `template`: a template database (extensions and the signal function only)."""
    if template:  # roles are cluster-wide: created with the database itself
        return [*extensions(), *signal_function(r)]
    statements = [create_roles(r), *role_attributes(r, owner_createdb=owner_createdb)]
    statements.append(admin_memberships(r))
    statements += database_ownership(r)
    if legacy_role:
        statements += legacy_reassign(legacy_role, r)
    statements += extensions()
    statements += signal_function(r)
    return statements


# --- grants (owner) -----------------------------------------------------------------------------

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")


def database_grants(r: config.Roles) -> str:
    grants = [
        "REVOKE ALL ON DATABASE %I FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE %I TO {quote(r.app)}, {quote(r.all_projects)}",
        f"GRANT CONNECT ON DATABASE %I TO {quote(r.readonly)}, {quote(r.monitor)}",
        f"REVOKE CREATE, TEMPORARY ON DATABASE %I FROM {quote(r.readonly)}, {quote(r.monitor)}",
        f"REVOKE CREATE ON DATABASE %I FROM {quote(r.app)}, {quote(r.all_projects)}",
    ]
    body = "\n".join(f"  EXECUTE format({literal(g)}, current_database());" for g in grants)
    return f"DO $$\nBEGIN\n{body}\nEND $$"


def schema_grants(r: config.Roles, schemas: Iterable[str]) -> list[str]:
    statements = []
    for schema in schemas:
        s = quote(schema)
        statements += [
            f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC, {', '.join(quote(x) for x in r.granted())}",
            f"GRANT USAGE ON SCHEMA {s} TO {', '.join(quote(x) for x in (*r.app_like(), r.readonly))}",
        ]
    return statements


def expected_default_privileges(schema: str) -> dict[str, set[str]]:
    """ALTER DEFAULT PRIVILEGES of the owner: object type → the app's privileges."""
    if schema == "public":
        return {
            "TABLES": {"SELECT", "INSERT", "UPDATE", "DELETE"},
            "SEQUENCES": {"USAGE", "SELECT"},
        }
    return {"TABLES": {"SELECT"}, "SEQUENCES": set()}


def default_privileges(r: config.Roles, schemas: Iterable[str]) -> list[str]:
    """New tables and partitions the owner creates are the app's at once; nothing is ever
    granted by default to the read-only or monitor roles (a future sensitive table or audit
    partition must not become readable): their grants are explicit, re-applied after migrate."""
    statements = []
    owner = quote(r.owner)
    for schema in schemas:
        s = quote(schema)
        for kind, privileges in expected_default_privileges(schema).items():
            others = ", ".join(quote(x) for x in r.granted())
            statements.append(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} REVOKE ALL ON {kind} FROM {others}"
            )
            if privileges:
                statements.append(
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} "
                    f"GRANT {', '.join(sorted(privileges))} ON {kind} "
                    f"TO {', '.join(quote(x) for x in r.app_like())}"
                )
    return statements


def function_grants(r: config.Roles, existing: set[str]) -> list[str]:
    statements = []
    if config.DEFAULT_ROWS_FUNCTION in existing:
        fn = f"public.{config.DEFAULT_ROWS_FUNCTION}(regclass, bigint)"
        statements += [
            f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC",
            f"GRANT EXECUTE ON FUNCTION {fn} TO {quote(r.monitor)}",
        ]
    return statements


def relation_name(schema: str, name: str) -> str:
    return f"{quote(schema)}.{quote(name)}"


def relation_grant_statements(
    r: config.Roles, schema: str, name: str, expected: dict[str, set[str]]
) -> list[str]:
    """Reset the Flowbase roles' privileges on one relation to `expected` (role → privileges)."""
    rel = relation_name(schema, name)
    statements = [f"REVOKE ALL ON {rel} FROM {', '.join(quote(x) for x in r.granted())}"]
    for role, privileges in expected.items():
        if privileges:
            statements.append(f"GRANT {', '.join(sorted(privileges))} ON {rel} TO {quote(role)}")
    return statements
