"""Reads on the streaming replica: only where the code asks, and only while the replica is close.

A caller names the models it may read from the replica (`on_replica(fn, Model, ...)`); inside,
`ReplicaRouter` sends reads of those models to the `replica` alias when all of these hold:
the replica is configured (REPLICA_DATABASE_URL), this request is not pinned to the primary
(a write, or a write within REPLICA_PIN_SECONDS: read-your-writes, apps.pg.middleware), `default`
is not inside a transaction, and the last probe (at most REPLICA_CHECK_SECONDS old, per process)
found a standby streaming from the primary with a replay lag under REPLICA_MAX_LAG_SECONDS.
Otherwise, and for every other read and every write, the primary. A query that fails on the
replica marks it down for REPLICA_RETRY_SECONDS and `on_replica` runs `fn` again on the primary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
T = TypeVar("T")

# Run on the replica as the app's login. Without a WAL receiver the standby is cut off from the
# primary and its data ages unseen; when everything received is replayed, the lag is zero (an
# idle primary sends nothing, so the last replayed commit's age says nothing then).
PROBE_SQL = """
SELECT pg_is_in_recovery() AS standby,
       EXISTS (SELECT FROM pg_stat_wal_receiver) AS streaming,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
       END::float8 AS lag_seconds
"""


# Logins that never migrate: the standby, the data-quality sandbox, the statistics reader.
MIGRATION_FREE_ALIASES = frozenset({REPLICA, "readonly", "monitor"})


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    reason: str
    lag_seconds: float | None
    checked_at: float  # time.time() of the probe

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Scope:
    labels: frozenset[str]
    used: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("replica_scope", default=None)
_pinned: ContextVar[bool] = ContextVar("replica_pinned", default=False)
_state: ReplicaState | None = None
_state_lock = threading.Lock()


def configured() -> bool:
    return bool(getattr(settings, "REPLICA_ENABLED", False)) and REPLICA in settings.DATABASES


def _setting(name: str) -> float:
    return float(getattr(settings, name))


def _probe() -> ReplicaState:
    now = time.time()
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(PROBE_SQL)
            standby, streaming, lag = cursor.fetchone()
    except Exception as exc:  # refused, timed out, or a test that did not allow the alias
        connections[REPLICA].close()
        return ReplicaState(False, f"unreachable: {str(exc).strip()[:200]}", None, now)
    return verdict(standby=standby, streaming=streaming, lag=lag, now=now)


def verdict(*, standby: bool, streaming: bool, lag: float | None, now: float) -> ReplicaState:
    """What one probe's answer means for routed reads."""
    max_lag = _setting("REPLICA_MAX_LAG_SECONDS")
    if not standby:
        return ReplicaState(False, "not a standby (promoted?): it no longer follows", None, now)
    if not streaming:
        return ReplicaState(False, "not streaming from the primary", lag, now)
    if lag is None:  # behind, and no commit replayed since it started: how far is unknown
        return ReplicaState(False, "catching up: no commit replayed since it started", None, now)
    if lag > max_lag:
        return ReplicaState(False, f"replay lag {lag:.1f} s over {max_lag:g} s", lag, now)
    return ReplicaState(True, "ok", lag, now)


def state(*, refresh: bool = False) -> ReplicaState:
    """The replica's last probe, probed again when older than REPLICA_CHECK_SECONDS (a failed
    one: REPLICA_RETRY_SECONDS, so a dead replica costs one connection attempt per interval)."""
    global _state
    if not configured():
        return ReplicaState(False, "not configured (REPLICA_DATABASE_URL unset)", None, time.time())
    with _state_lock:
        current = _state
        if current is not None and not refresh:
            ttl = _setting("REPLICA_CHECK_SECONDS" if current.usable else "REPLICA_RETRY_SECONDS")
            if time.time() - current.checked_at < ttl:
                return current
        _state = _probe()
        if current is not None and current.usable != _state.usable:
            logger.warning("replica reads %s: %s", "on" if _state.usable else "off", _state.reason)
        return _state


def mark_down(reason: str) -> None:
    global _state
    with _state_lock:
        _state = ReplicaState(False, reason[:240], None, time.time())
    logger.warning("replica reads off: %s", reason)


def reset() -> None:
    """Forget the last probe (tests; a replica just re-pointed)."""
    global _state
    with _state_lock:
        _state = None


def decision() -> dict[str, Any]:
    """What a routed read would do now, and why (the Database overview and /metrics)."""
    current = state()
    return {
        "configured": configured(),
        "target": REPLICA if current.usable else DEFAULT_DB_ALIAS,
        "max_lag_seconds": _setting("REPLICA_MAX_LAG_SECONDS"),
        **current.as_dict(),
    }


def usable_now() -> bool:
    """May a routed read go to the replica at this point of this request?"""
    if not configured() or _pinned.get():
        return False
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return False  # a transaction reads what it wrote, and one snapshot: the primary's
    return state().usable


def pinned() -> bool:
    return _pinned.get()


class pin_primary:
    """Within it, every read goes to the primary (a request that wrote, or just did)."""

    def __init__(self, on: bool = True) -> None:
        self.on = on

    def __enter__(self) -> None:
        self._token = _pinned.set(self.on or _pinned.get())

    def __exit__(self, *exc) -> None:
        _pinned.reset(self._token)


def on_replica(fn: Callable[[], T], *models) -> T:
    """fn() with the reads of `models` allowed on the replica; again on the primary if a
    query on the replica failed (the replica went away between probe and query)."""
    if not configured():
        return fn()
    scope = _Scope(frozenset(m._meta.label for m in models))
    token = _scope.set(scope)
    try:
        return fn()
    except DatabaseError as exc:
        if not scope.used:
            raise
        mark_down(f"query failed: {str(exc).strip()[:200]}")
        connections[REPLICA].close()
    finally:
        _scope.reset(token)
    return fn()


class ReplicaRouter:
    """DATABASE_ROUTERS entry. Without an `on_replica` scope it changes nothing."""

    def db_for_read(self, model, **hints):
        scope = _scope.get()
        if scope is None or model._meta.label not in scope.labels or not usable_now():
            return None
        scope.used = True
        return REPLICA

    def db_for_write(self, model, **hints):
        instance = hints.get("instance")
        if instance is not None and instance._state.db == REPLICA:
            return DEFAULT_DB_ALIAS  # a row read on the replica is saved on the primary
        return None

    def allow_relation(self, obj1, obj2, **hints):
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, **hints):
        # Migrations run as the owner on the primary; no other login's alias takes part (with a
        # router configured, makemigrations checks the history on every alias that may).
        return False if db in MIGRATION_FREE_ALIASES else None
