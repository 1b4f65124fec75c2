"""Lock timeouts and transaction-scoped advisory locks (leases live in apps/pg/leases.py).

Only the *xact* advisory locks: they end with the transaction, so a pooled connection or
PgBouncer in transaction mode never hands a held lock to the next client.
"""

from __future__ import annotations

import zlib

from django.db import DEFAULT_DB_ALIAS, connections

# SET LOCAL with a parameter: lasts until the end of the current transaction.
SET_LOCAL_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %s, true)"
TRY_XACT_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"
XACT_LOCK = "SELECT pg_advisory_xact_lock(%s)"


def set_local_lock_timeout(value: str, *, using: str = DEFAULT_DB_ALIAS, cursor=None) -> None:
    """`SET LOCAL lock_timeout = value` ('2s', '500ms', '0' for none) for this transaction."""
    if cursor is not None:
        cursor.execute(SET_LOCAL_LOCK_TIMEOUT, [value])
        return
    with connections[using].cursor() as own:
        own.execute(SET_LOCAL_LOCK_TIMEOUT, [value])


def lock_key(name: str, *, namespace: str = "flowbase.ops") -> int:
    """A stable bigint key for a lock name (crc32, not hash(): the same in every process)."""
    return zlib.crc32(f"{namespace}:{name}".encode())


def _require_transaction(connection, what: str) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError(f"{what}() needs a transaction (use transaction.atomic())")


def try_xact_lock(
    name: str, *, using: str = DEFAULT_DB_ALIAS, namespace: str = "flowbase.ops"
) -> bool:
    """pg_try_advisory_xact_lock for `name`: True if taken (released at commit/rollback)."""
    connection = connections[using]
    _require_transaction(connection, "try_xact_lock")
    with connection.cursor() as cursor:
        cursor.execute(TRY_XACT_LOCK, [lock_key(name, namespace=namespace)])
        return bool(cursor.fetchone()[0])


def xact_lock(name: str, *, using: str = DEFAULT_DB_ALIAS, namespace: str = "flowbase.ops") -> None:
    """Wait for pg_advisory_xact_lock on `name` (bounded by the transaction's lock_timeout)."""
    connection = connections[using]
    _require_transaction(connection, "xact_lock")
    with connection.cursor() as cursor:
        cursor.execute(XACT_LOCK, [lock_key(name, namespace=namespace)])
