"""The ops jobs' leases: running ArchiveRun / MaintenanceRun(step "run") / MatviewRefresh rows,
judged by apps.pg.leases (holder's session gone, or heartbeats silent for a few intervals)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import QuerySet
from django.utils import timezone

from apps.pg.leases import Holder, LeaseState, current_holder, death_reason, live_holders

from .models import Outcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeasePolicy:
    heartbeat: timedelta  # how often the holder must beat
    stale_after: timedelta  # silence after which the holder is dead
    check_backend: bool  # False behind PgBouncer transaction pooling (pids are the pooler's)


def policy(kind: str) -> LeasePolicy:
    """kind: "archive" or "maintenance". OPS_<KIND>_LEASE_SECONDS, when set, is the silence limit;
    otherwise OPS_LEASE_MISSED_BEATS (3) heartbeat intervals."""
    beat = float(
        getattr(settings, f"OPS_{kind.upper()}_HEARTBEAT_SECONDS", 30 if kind == "archive" else 120)
    )
    missed = int(getattr(settings, "OPS_LEASE_MISSED_BEATS", 3))
    explicit = getattr(settings, f"OPS_{kind.upper()}_LEASE_SECONDS", None)
    return LeasePolicy(
        heartbeat=timedelta(seconds=beat),
        stale_after=timedelta(seconds=float(explicit) if explicit else beat * missed),
        check_backend=bool(getattr(settings, "OPS_LEASE_CHECK_BACKEND", True)),
    )


def holder_fields(*, using: str) -> dict:
    holder = current_holder(using=using)
    return {"holder_pid": holder.pid, "holder_backend_start": holder.backend_start}


def interrupt_dead(
    running: QuerySet,
    *,
    heartbeat_field: str,
    stale_after: timedelta,
    check_backend: bool,
    using: str,
) -> list[tuple[int, str]]:
    """Mark `running` rows whose holder is known dead as interrupted (with the reason in error);
    returns [(pk, reason)]. Each update re-checks outcome=running, so a row finished meanwhile
    is left alone."""
    now = timezone.now()
    rows = running.values_list(
        "pk", "holder_pid", "holder_backend_start", heartbeat_field, "started_at"
    )
    states = {
        pk: LeaseState(
            holder=Holder(pid, backend) if pid is not None and backend is not None else None,
            # Rows written before heartbeats existed count from their start.
            heartbeat_at=beat or started,
        )
        for pk, pid, backend, beat, started in rows
    }
    alive = (
        live_holders([s.holder for s in states.values() if s.holder], using=using)
        if check_backend
        else set()
    )
    interrupted = []
    for pk, state in states.items():
        reason = death_reason(
            state, now=now, stale_after=stale_after, alive=alive, check_backend=check_backend
        )
        if reason and running.filter(pk=pk).update(
            outcome=Outcome.INTERRUPTED, finished_at=now, error=f"interrupted: {reason}"
        ):
            interrupted.append((pk, reason))
    return interrupted


def take_over_dead(
    model, *, kind: str, using: str = DEFAULT_DB_ALIAS, **filters
) -> tuple[bool, list]:
    """Under the caller's xact lock: mark running rows whose holder is known dead interrupted;
    returns (a live holder remains, [(pk, reason)] taken over)."""
    lease = policy(kind)
    running = model.objects.using(using).filter(outcome=Outcome.RUNNING, **filters)
    taken = interrupt_dead(
        running,
        heartbeat_field="heartbeat_at",
        stale_after=lease.stale_after,
        check_backend=lease.check_backend,
        using=using,
    )
    return running.exists(), taken


def mark_ended(queryset, *, using: str, **fields) -> None:
    """Record how a run ended, even after its connection broke (reconnect once); never mask the
    error being handled: a row left "running" is taken over by the next run anyway."""
    connection = connections[using]
    try:
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        queryset.filter(outcome=Outcome.RUNNING).update(**fields)
    except DatabaseError:
        logger.warning("could not record the end of %s", queryset.model.__name__, exc_info=True)
