"""Applying the roles: the bootstrap as an admin, the grants as the owner, one relation's grants
right after the partition job created or detached it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from urllib.parse import unquote, urlsplit

import psycopg
from django.db import connections, transaction

from . import catalog, config, sql

logger = logging.getLogger(__name__)


def grant_statements(cursor) -> list[str]:
    """The owner's part: database, schemas, default privileges, and every relation of the managed
    schemas whose privileges differ from the expected ones (only those: the dry run shows the diff)."""
    r = config.roles()
    schemas = catalog.managed_schemas(cursor)
    statements = [
        sql.database_grants(r),
        *sql.schema_grants(r, schemas),
        *sql.default_privileges(r, schemas),
    ]
    relations = catalog.relations(cursor, schemas)
    actual = catalog.privileges(cursor, schemas, list(r.granted()))
    for rel in relations:
        if rel.owner != r.owner:
            continue  # only its owner (or an admin's REASSIGN) can fix it: the check reports it
        expected = catalog.expected_privileges(rel, r)
        if any(actual.get((rel.oid, role), set()) != want for role, want in expected.items()):
            statements += sql.relation_grant_statements(r, rel.schema, rel.name, expected)
    cursor.execute(
        "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND proname = ANY(%s)",
        [[config.DEFAULT_ROWS_FUNCTION]],
    )
    statements += sql.function_grants(r, {row[0] for row in cursor.fetchall()})
    return statements


def grants_apply(*, using: str | None = None, dry_run: bool = False) -> list[str]:
    """Run the owner's part through the owner connection (idempotent); returns the statements."""
    using = using or config.owner_alias()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        statements = grant_statements(cursor)
        if not dry_run:
            for statement in statements:
                cursor.execute(statement)
    return statements


def relation_grants_sync(*, schema: str, name: str, using: str) -> None:
    """Give one relation the Flowbase roles' expected privileges, in the caller's transaction:
    the partition job calls it right after CREATE / DETACH … SET SCHEMA, as the owner."""
    r = config.roles()
    with connections[using].cursor() as cursor:
        cursor.execute(
            catalog.RELATIONS_SQL.replace(
                "WHERE n.nspname = ANY(%s)", "WHERE n.nspname = %s AND c.relname = %s"
            ),
            [schema, name],
        )
        row = cursor.fetchone()
        if row is None:
            return
        rel = catalog.Relation(*row)
        cursor.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
            [list(r.granted())],
        )
        if cursor.fetchone()[0] < len(r.granted()):
            logger.warning("roles missing: grants on %s.%s not synchronised", schema, name)
            return
        for statement in sql.relation_grant_statements(
            r, rel.schema, rel.name, catalog.expected_privileges(rel, r)
        ):
            cursor.execute(statement)
        if rel.is_partition:
            # A partition of a table under row-level security shows the app nothing when it
            # is read directly rather than through its parent (whose policies do not apply).
            cursor.execute(
                "SELECT relrowsecurity FROM pg_class WHERE oid = pg_partition_root(%s::oid)",
                [rel.oid],
            )
            if cursor.fetchone()[0]:
                cursor.execute(
                    f"ALTER TABLE {sql.relation_name(rel.schema, rel.name)} ENABLE ROW LEVEL SECURITY"
                )


# --- the admin's part ---------------------------------------------------------------------------


def _url_password(alias: str) -> tuple[str | None, str | None]:
    from django.conf import settings

    db = settings.DATABASES.get(alias) or {}
    return db.get("USER") or None, db.get("PASSWORD") or None


def _password_statements(r: config.Roles) -> list[str]:
    """ALTER ROLE … PASSWORD for each login whose configured URL carries a password."""
    statements = []
    for alias, role in (
        ("default", r.app),
        (config.OWNER_ALIAS, r.owner),
        (config.READONLY_ALIAS, r.readonly),
        (config.MONITOR_ALIAS, r.monitor),
    ):
        user, password = _url_password(alias)
        if password and user == role:
            statements.append(
                f"ALTER ROLE {sql.quote(role)} PASSWORD {sql.literal(sql.scram_verifier(password))}"
            )
    return statements


def admin_connect(url: str, *, dbname: str | None = None) -> psycopg.Connection:
    parts = urlsplit(url)
    kwargs = {}
    if dbname:
        kwargs["dbname"] = dbname
    if parts.scheme in ("postgres", "postgresql"):
        return psycopg.connect(url, autocommit=True, **kwargs)
    raise ValueError(f"not a PostgreSQL URL: {unquote(url)[:30]}…")


def bootstrap_apply(
    *,
    admin_url: str,
    owner_createdb: bool = False,
    template: bool = False,
    legacy_role: str | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] = lambda s: None,
) -> list[str]:
    """As the admin: roles, memberships, ownership, extensions, the signal function; then the
    owner's grants (SET ROLE owner). `template`: also prepare template1 (local clusters: the
    test database is created from it by the owner, who cannot create extensions)."""
    r = config.roles()
    done: list[str] = []
    with admin_connect(admin_url) as conn:
        # ALTER ROLE … PASSWORD must not land in pg_stat_statements (the monitor reads it).
        with contextlib.suppress(psycopg.Error):
            conn.execute("SET pg_stat_statements.track_utility = off")
        legacy = legacy_role if legacy_role and _role_exists(conn, legacy_role) else None
        if legacy:
            _drop_legacy_test_databases(conn, legacy, dry_run=dry_run, done=done, echo=echo)
        statements = sql.bootstrap(r, owner_createdb=owner_createdb, legacy_role=legacy)
        statements += _password_statements(r)
        done += _run(conn, statements, dry_run=dry_run, echo=echo)
        if not dry_run or _role_exists(conn, r.owner):
            with conn.cursor() as cursor:
                if not dry_run:
                    cursor.execute(f"SET ROLE {sql.quote(r.owner)}")
                grants = grant_statements(cursor)
                done += _run(conn, grants, dry_run=dry_run, echo=echo)
                if not dry_run:
                    cursor.execute("RESET ROLE")
    if template:
        with admin_connect(admin_url, dbname="template1") as conn:
            done += _run(conn, sql.bootstrap(r, template=True), dry_run=dry_run, echo=echo)
    return done


def _role_exists(conn, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is not None


def _drop_legacy_test_databases(conn, legacy: str, *, dry_run, done, echo) -> None:
    """Test databases the legacy superuser owned are disposable: dropped (pytest re-creates them
    as the owner); the others are reassigned in their own database by REASSIGN OWNED."""
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = %s)"
        " AND datname LIKE 'test\\_%%' AND datname <> current_database()",
        [legacy],
    ).fetchall()
    done += _run(
        conn,
        [f"DROP DATABASE IF EXISTS {sql.quote(name)} WITH (FORCE)" for (name,) in rows],
        dry_run=dry_run,
        echo=echo,
    )


def _run(conn, statements: Iterable[str], *, dry_run: bool, echo) -> list[str]:
    out = []
    for statement in statements:
        echo(statement.rstrip() + ";")
        if not dry_run:
            conn.execute(statement)
        out.append(statement)
    return out
