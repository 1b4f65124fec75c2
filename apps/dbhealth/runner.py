"""The one SQL runner of the Database section, and its one way to quote identifiers.

Rules: each statement runs inside its own short transaction with `SET LOCAL statement_timeout`
(and `lock_timeout`), carries a LIMIT, and returns plain dicts; nothing here runs DDL.
Identifiers that come from data are only ever composed with `psycopg.sql`.

Connections: catalog and statistics reads go through the monitor login (pg_monitor: it sees
other sessions' queries, but can read no table); data-quality checks through the read-only
login, in a sandbox (`sandbox_fetch`); backend signals through the app, via the one audited
SECURITY DEFINER function (see apps/core/roles/sql.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from pglast import keywords
from psycopg import sql

from apps.core.roles import config as roles_config
from apps.pg import sql as pg_sql

from . import conf

USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'"
)
DEFAULT_TIMEOUT_MS = 5_000
CATALOG_LOCK_TIMEOUT_MS = 1_000  # a catalog read never queues behind DDL for long
MAX_ROWS = 20_000

# Relations another backend holds (or waits for) in ACCESS EXCLUSIVE mode, e.g. a migration:
# size functions would queue behind it, so those relations get no exact size (pgwatch pattern).
LOCKED = """(SELECT l.relation FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"""

# Objects a check names without a schema resolve here only (never in pg_temp first).
SANDBOX_SEARCH_PATH = "pg_catalog, public, pg_temp"


class CatalogError(Exception):
    pass


class _RollBack(Exception):
    pass


def as_string(query: sql.Composable, using: str | None = None) -> str:
    conn = connections[using or roles_config.monitor_alias()]
    conn.ensure_connection()
    return query.as_string(conn.connection)


# Words PostgreSQL's quote_ident() quotes: every keyword that is not unreserved.
_QUOTED_KEYWORDS = (
    keywords.RESERVED_KEYWORDS | keywords.COL_NAME_KEYWORDS | keywords.TYPE_FUNC_NAME_KEYWORDS
)
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


def ident(*parts: str) -> str:
    """A (qualified) identifier for DDL text a human copies: psycopg's quoting, left bare only
    where PostgreSQL's own quote_ident() would (plain lower-case names that are no keyword)."""
    if all(_PLAIN.fullmatch(p) and p not in _QUOTED_KEYWORDS for p in parts):
        return ".".join(parts)
    return as_string(sql.Identifier(*parts))


def qualified(schema: str, name: str) -> str:
    """How a page names a relation: without the schema when it is public."""
    return name if schema == "public" else f"{schema}.{name}"


def _rows(cursor) -> list[dict[str, Any]]:
    if cursor.description is None:
        return []
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def fetch(
    query: str | sql.Composable,
    params: Sequence[Any] | None = None,
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    read_only: bool = False,
    using: str | None = None,
) -> list[dict[str, Any]]:
    """Run one statement in its own (sub)transaction with a statement timeout, current
    statistics and a short lock timeout (the floor's catalog read); rows as dicts."""
    return pg_sql.fetch(
        query,
        params,
        using=using or roles_config.monitor_alias(),
        timeout_ms=timeout_ms,
        lock_timeout_ms=CATALOG_LOCK_TIMEOUT_MS,
        read_only=read_only,
        fresh_stats=True,
    )


def fetch_one(query, params=None, **kwargs) -> dict[str, Any] | None:
    rows = fetch(query, params, **kwargs)
    return rows[0] if rows else None


def sandbox_fetch(
    query: str | sql.Composable, params: Sequence[Any] | None = None, *, timeout_ms: int
) -> list[dict[str, Any]]:
    """A data-quality statement: as the read-only role, in a READ ONLY transaction with
    statement_timeout, lock_timeout and a fixed search_path, always rolled back. Refuses to run
    on any other login, so a misconfigured READONLY_DATABASE_URL never means more rights."""
    using = roles_config.readonly_alias()
    if isinstance(query, sql.Composable):
        query = as_string(query, using)
    role = roles_config.roles().readonly
    result: list[dict[str, Any]] = []
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true),"
                " set_config('lock_timeout', %s, true), set_config('search_path', %s, true),"
                " current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
                [
                    str(int(timeout_ms)),
                    str(int(conf.get("DQ_LOCK_TIMEOUT_MS"))),
                    SANDBOX_SEARCH_PATH,
                ],
            )
            *_, current, superuser = cursor.fetchone()
            if current != role or superuser:
                raise CatalogError(
                    f"data-quality checks run only as the read-only role {role}, "
                    f"but READONLY_DATABASE_URL logs in as {current}: refused"
                )
            cursor.execute(query, params)
            result = _rows(cursor)
            raise _RollBack
    except _RollBack:
        pass
    finally:
        _release_session_state(using)
    return result


def sandbox_one(query, params=None, **kwargs) -> dict[str, Any] | None:
    rows = sandbox_fetch(query, params, **kwargs)
    return rows[0] if rows else None


def _release_session_state(using: str) -> None:
    """Session-level advisory locks survive a rollback: never leave one behind a check."""
    conn = connections[using]
    if conn.connection is None or conn.needs_rollback:
        return
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
    except Exception:  # the connection is broken: Django discards it
        conn.close_if_unusable_or_obsolete()


def own_backend_pids() -> list[int]:
    """Backends of this thread's open connections, whatever their alias: the catalog is read as
    the monitor, but the request's own app connection (the one that would send a signal) is
    just as much "self" as the monitor's."""
    pids = []
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is not None and not raw.closed:
            pids.append(raw.info.backend_pid)
    return pids


def ping() -> bool:
    """The app's own connection (what /readyz is about)."""
    return bool(fetch_one("SELECT 1 AS ok LIMIT 1", timeout_ms=2_000, using=DEFAULT_DB_ALIAS))
