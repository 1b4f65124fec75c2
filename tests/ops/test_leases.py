"""Leases of the long jobs: a dead holder (session gone, or silent for a few heartbeats) is taken
over at once and the run continues; a live one is respected; a run judged dead stops writing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.ops import services
from apps.ops.models import ArchivedWorkflow, ArchiveRun, MaintenanceRun
from apps.pg.leases import Holder, LeaseLost, LeaseState, current_holder, death_reason, live_holders
from apps.workflows.models import Workflow

from .conftest import make_workflow, raw_connection

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("clean_archive"),
]

NOW = timezone.now()
GONE = Holder(pid=2**31 - 7, backend_start=NOW - timedelta(hours=1))  # no such session


def running_archive(*, holder: Holder | None, heartbeat_age: timedelta) -> ArchiveRun:
    beat = timezone.now() - heartbeat_age
    return ArchiveRun.objects.create(
        started_at=beat,
        heartbeat_at=beat,
        applied=True,
        older_than_days=365,
        cutoff=beat - timedelta(days=365),
        batch_size=10,
        outcome="running",
        holder_pid=holder.pid if holder else None,
        holder_backend_start=holder.backend_start if holder else None,
    )


def test_death_reason_rules():
    alive = Holder(pid=1, backend_start=NOW)
    fresh, limit = NOW - timedelta(seconds=5), timedelta(seconds=90)
    rule = {"now": NOW, "stale_after": limit, "alive": {alive}}
    assert death_reason(LeaseState(alive, fresh), **rule) is None
    assert "session (pid" in death_reason(LeaseState(GONE, fresh), **rule)
    assert "no heartbeat for 100 s" in death_reason(
        LeaseState(alive, NOW - timedelta(seconds=100)), **rule
    )
    assert death_reason(LeaseState(None, fresh), **rule) is None  # unknown holder: heartbeat only
    # Behind a transaction pooler the pid says nothing: only the heartbeat counts.
    assert death_reason(LeaseState(GONE, fresh), **rule, check_backend=False) is None
    # A reused pid with another start time is another session.
    reused = Holder(pid=1, backend_start=NOW - timedelta(days=1))
    assert death_reason(LeaseState(reused, fresh), **rule) is not None


def test_live_holders_sees_sessions_by_pid_and_start():
    me = current_holder()
    assert live_holders([me, GONE]) == {me}
    assert live_holders([Holder(me.pid, me.backend_start - timedelta(seconds=1))]) == set()
    # Another role's session: its start is hidden, so a matching pid is enough (not dead).
    with raw_connection() as other:  # the app role; the owner may not see its start
        pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert live_holders([Holder(pid, NOW)], using="owner") == {Holder(pid, NOW)}


def test_a_run_whose_session_is_gone_is_taken_over_at_once():
    make_workflow(age_days=400, tasks=2)
    dead = running_archive(holder=GONE, heartbeat_age=timedelta(seconds=1))
    run = services.archive_run(older_than_days=365, apply=True)
    assert (run.outcome, run.workflows_moved) == ("success", 1)
    assert run.details["took_over"] == [{"run": dead.pk, "reason": dead_reason(dead)}]
    dead.refresh_from_db()
    assert dead.outcome == "interrupted" and "is gone" in dead.error


def dead_reason(run: ArchiveRun) -> str:
    return f"its database session (pid {run.holder_pid}) is gone"


def test_a_live_holder_is_respected_until_its_heartbeats_stop(settings):
    settings.OPS_ARCHIVE_HEARTBEAT_SECONDS = 10  # dead after 3 beats (30 s) of silence
    make_workflow(age_days=400, tasks=1)
    with raw_connection() as other:
        pid, start = other.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        ).fetchone()
        holder = Holder(pid, start)
        live = running_archive(holder=holder, heartbeat_age=timedelta(seconds=20))
        assert services.archive_run(older_than_days=365, apply=True).outcome == "skipped"
        ArchiveRun.objects.filter(pk=live.pk).update(
            heartbeat_at=timezone.now() - timedelta(seconds=31)
        )
        run = services.archive_run(older_than_days=365, apply=True)
    assert (run.outcome, run.workflows_moved) == ("success", 1)
    assert "no heartbeat for 31 s (limit 30 s)" in run.details["took_over"][0]["reason"]


def test_a_run_judged_dead_stops_and_rolls_back_its_batch(monkeypatch):
    for _ in range(4):
        make_workflow(age_days=400, tasks=1)
    real_batch = services.archive._archive_batch

    def batch_then_lose_the_lease(**kwargs):
        counts = real_batch(**kwargs)
        # Another run judged this one dead and took over.
        ArchiveRun.objects.filter(pk=kwargs["run"].pk).update(outcome="interrupted")
        return counts

    monkeypatch.setattr(services.archive, "_archive_batch", batch_then_lose_the_lease)
    with pytest.raises(LeaseLost):
        services.archive_run(older_than_days=365, apply=True, batch_size=1)
    run = ArchiveRun.objects.get()
    assert (run.outcome, run.batches, run.workflows_moved) == ("interrupted", 1, 1)
    assert ArchivedWorkflow.objects.count() == 1 and Workflow.objects.count() == 3


def test_maintenance_takes_over_a_dead_run():
    MaintenanceRun.objects.create(
        run_id=uuid.uuid4(),
        step="run",
        applied=True,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        holder_pid=GONE.pid,
        holder_backend_start=GONE.backend_start,
    )
    rows = services.maintenance_run(apply=True, steps=("vacuum_report",))
    assert [r.outcome for r in rows] == ["success", "success"]
    assert "is gone" in rows[0].details["took_over"][0]["reason"]
    header = MaintenanceRun.objects.get(pk=rows[0].pk)
    assert header.holder_pid is not None and header.heartbeat_at is not None
