"""A refresh killed mid-way (kill -9 while the REFRESH waits for a lock) leaves its "running"
row; the next refresh marks it interrupted and succeeds."""

from __future__ import annotations

import os
import signal

import pytest

from apps.ops import services
from apps.ops.models import MatviewRefresh

from .conftest import manage, raw_connection, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.slow,
]


def test_killed_refresh_is_logged_as_interrupted(children):
    blocker = raw_connection()
    blocker.execute("SELECT * FROM workflow_summary LIMIT 1")  # AccessShare: blocks a plain one
    proc = manage("refresh_views", "workflow_summary", "--no-concurrently")
    children.append(proc)
    row = wait_until(
        lambda: (
            MatviewRefresh.objects.filter(view_name="workflow_summary", outcome="running")
            .exclude(holder_pid=None)
            .first()
        ),
        timeout=30,
        what="the refresh subprocess to log its attempt",
    )
    wait_until(
        lambda: blocker.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'workflow_summary'::regclass"
        ).fetchone()[0],
        timeout=10,
        what="the REFRESH to wait for its lock",
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    blocker.rollback()
    blocker.close()
    row.refresh_from_db()
    assert row.outcome == "running"  # nobody could write the end: the kill left a trace

    # The killed session may take a moment to vanish; the next refresh judges it by its pid.
    def next_refresh_judges_it():
        record = services.matview_refresh(name="workflow_summary")
        row.refresh_from_db()
        return record if row.outcome == "interrupted" else None

    record = wait_until(next_refresh_judges_it, timeout=10, what="the attempt marked interrupted")
    assert record.outcome == "success"
    assert "database session" in row.error and row.finished_at is not None
