"""Leases for long, multi-transaction jobs: who holds one, and whether the holder is dead.

A lease is a row of the caller's (a job log with an outcome "running"); this module knows only
the holder's identity and the rules that declare it dead, so it imports no domain app:

* the holder's PostgreSQL backend is gone: a session is identified by (pid, backend_start),
  since pids are reused; a process killed with -9 loses its socket and its backend exits within
  milliseconds, so the next run can take over at once;
* or its heartbeats stopped for `stale_after` (a few heartbeat intervals): a hung process, or a
  holder whose backend cannot be checked (behind PgBouncer in transaction mode the backend pid
  belongs to the pooler's server connection, so pass check_backend=False there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connections

from . import rowscope

CURRENT_BACKEND = "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
# Any role sees every session's pid; backend_start only of sessions of roles whose privileges it
# has (else NULL, as without pg_read_all_stats).
LIVE_BACKENDS = """
SELECT a.pid, a.backend_start
FROM pg_stat_activity a
JOIN unnest(%s::int[]) AS held(pid) ON held.pid = a.pid
"""


def _as_login():
    """pg_stat_activity shows a session's start only to its login role, not to the bypass role
    an unscoped transaction runs as: read it in a project scope (this table has no rows of one)."""
    return rowscope.bound(rowscope.NO_ROWS)


@dataclass(frozen=True)
class Holder:
    """One PostgreSQL session: a pid alone is reused, (pid, backend_start) is not."""

    pid: int
    backend_start: datetime


def current_holder(*, using: str = DEFAULT_DB_ALIAS) -> Holder:
    """The session `using` is connected to (connects if needed)."""
    with _as_login(), connections[using].cursor() as cursor:
        cursor.execute(CURRENT_BACKEND)
        pid, backend_start = cursor.fetchone()
    return Holder(pid=pid, backend_start=backend_start)


def live_holders(holders: Iterable[Holder], *, using: str = DEFAULT_DB_ALIAS) -> set[Holder]:
    """Those of `holders` whose session still exists (one catalog query). A session whose start
    this role may not see counts as alive when its pid exists: unsure means not dead."""
    wanted = set(holders)
    if not wanted:
        return set()
    with _as_login(), connections[using].cursor() as cursor:
        cursor.execute(LIVE_BACKENDS, [sorted({h.pid for h in wanted})])
        starts = dict(cursor.fetchall())
    return {h for h in wanted if h.pid in starts and starts[h.pid] in (None, h.backend_start)}


@dataclass(frozen=True)
class LeaseState:
    """What the caller stored about one running lease."""

    holder: Holder | None
    heartbeat_at: datetime


def death_reason(
    state: LeaseState,
    *,
    now: datetime,
    stale_after: timedelta,
    alive: set[Holder],
    check_backend: bool = True,
) -> str | None:
    """Why the holder of `state` is known dead, or None while it may be alive.

    alive: the result of live_holders() over the holders being judged (one query for many)."""
    if check_backend and state.holder is not None and state.holder not in alive:
        return f"its database session (pid {state.holder.pid}) is gone"
    silent = now - state.heartbeat_at
    if silent > stale_after:
        return f"no heartbeat for {int(silent.total_seconds())} s (limit {int(stale_after.total_seconds())} s)"
    return None


class LeaseLost(RuntimeError):
    """The lease was taken over (the holder was judged dead): stop without writing more."""
