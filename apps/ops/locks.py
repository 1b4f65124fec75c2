"""Transaction-scoped advisory locks and lock timeouts (stack-pitfalls §5: xact locks only)."""

import zlib

from django.db import DEFAULT_DB_ALIAS, connections

from . import queries


def lock_key(name: str) -> int:
    """A stable bigint key for a lock name (crc32, not hash(): same in every process)."""
    return zlib.crc32(f"flowbase.ops:{name}".encode())


def try_xact_lock(name: str, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Take pg_try_advisory_xact_lock for `name`; released at commit/rollback."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("try_xact_lock() needs a transaction (use transaction.atomic())")
    with connection.cursor() as cursor:
        cursor.execute(queries.TRY_XACT_LOCK, [lock_key(name)])
        return bool(cursor.fetchone()[0])


def set_local_lock_timeout(value: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(queries.SET_LOCAL_LOCK_TIMEOUT, [value])
