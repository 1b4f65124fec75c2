"""The one SQL runner and identifier quoting for SQL the ORM cannot say (catalog reads, DDL).

`fetch` returns rows as dicts. Given a timeout, `read_only` or `fresh_stats`, it runs in its
own (sub)transaction that is always rolled back: a rolled-back savepoint undoes its SET LOCAL
settings, a released one would keep them for the rest of the caller's transaction. So such
calls only read; `execute` is for writes. `catalog_fetch` is the lock-safe catalog read:
bounded in time, and giving up after a second behind a lock (a migration's AccessExclusive)
instead of queueing every later query behind it.

Identifiers are quoted with psycopg.sql (embedded quotes doubled); values are always parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg import sql

Query = str | sql.Composable
SQL = sql.SQL
Identifier = sql.Identifier
Params = Sequence[Any] | dict[str, Any] | None

CATALOG_TIMEOUT_MS = 5_000
CATALOG_LOCK_TIMEOUT_MS = 1_000


def ident(*parts: str) -> sql.Identifier:
    """A (schema-)qualified identifier: ident("archive", "events_event")."""
    return sql.Identifier(*parts)


def quote(*parts: str) -> str:
    """The quoted SQL text of an identifier: quote("a\\"b") == '"a""b"'."""
    return sql.Identifier(*parts).as_string(None)


def as_string(query: Query, *, using: str = DEFAULT_DB_ALIAS) -> str:
    if isinstance(query, str):
        return query
    connection = connections[using]
    connection.ensure_connection()
    return query.as_string(connection.connection)


def _dicts(cursor) -> list[dict[str, Any]]:
    if cursor.description is None:
        return []
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class _RollBack(Exception):
    pass


def fetch(
    query: Query,
    params: Params = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
    timeout_ms: int | None = None,
    lock_timeout_ms: int | None = None,
    read_only: bool = False,
    fresh_stats: bool = False,
) -> list[dict[str, Any]]:
    """Run one statement, rows as dicts.

    With no option it runs on a plain cursor, inside whatever transaction the caller has.
    With `timeout_ms` / `lock_timeout_ms` (SET LOCAL), `read_only` (SET TRANSACTION READ ONLY,
    which only applies to a fresh transaction) or `fresh_stats` (pg_stat_clear_snapshot: the
    statistics views are snapshotted per transaction), it runs in its own atomic block and
    rolls it back afterwards, so nothing it set outlives it.
    """
    text = as_string(query, using=using)
    connection = connections[using]
    if timeout_ms is None and lock_timeout_ms is None and not read_only and not fresh_stats:
        with connection.cursor() as cursor:
            cursor.execute(text, params)
            return _dicts(cursor)
    result: list[dict[str, Any]] = []
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if read_only:
                # Allowed in a savepoint too (going read-only always is); undone by the rollback.
                cursor.execute("SET TRANSACTION READ ONLY")
            local = {}
            if timeout_ms is not None:
                local["statement_timeout"] = str(int(timeout_ms))
            if lock_timeout_ms is not None:
                local["lock_timeout"] = str(int(lock_timeout_ms))
            if local:
                set_local(local, cursor=cursor)
            if fresh_stats:
                cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(text, params)
            result = _dicts(cursor)
            raise _RollBack
    except _RollBack:
        pass
    return result


def fetch_one(query: Query, params: Params = None, **options) -> dict[str, Any] | None:
    rows = fetch(query, params, **options)
    return rows[0] if rows else None


def execute(query: Query, params: Params = None, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Run one writing statement in the caller's transaction; the row count."""
    with connections[using].cursor() as cursor:
        cursor.execute(as_string(query, using=using), params)
        return cursor.rowcount


def catalog_fetch(query: Query, params: Params = None, **options) -> list[dict[str, Any]]:
    """A lock-safe catalog read: statement and lock timeouts, current statistics, rolled back."""
    options.setdefault("timeout_ms", CATALOG_TIMEOUT_MS)
    options.setdefault("lock_timeout_ms", CATALOG_LOCK_TIMEOUT_MS)
    options.setdefault("fresh_stats", True)
    return fetch(query, params, **options)


def set_local(values: dict[str, str], *, using: str = DEFAULT_DB_ALIAS, cursor=None) -> None:
    """SET LOCAL each setting (until the end of the current transaction), in one round trip.

    set_config(..., true) takes parameters, which a plain `SET LOCAL x = %s` cannot."""
    if not values:
        return
    statement = "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(values))
    params = [item for pair in values.items() for item in pair]
    if cursor is not None:
        cursor.execute(statement, params)
        return
    with connections[using].cursor() as own:
        own.execute(statement, params)


def behind_pgbouncer(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True when the alias reaches PostgreSQL through PgBouncer in transaction mode (its settings
    say `"PGBOUNCER": True`): session-level state (SET without LOCAL, session advisory locks,
    LISTEN, prepared statements) would leak to other clients there, so it must use another alias."""
    return (
        bool(connections.settings[using].get("PGBOUNCER", False))
        if using in connections.settings
        else False
    )
