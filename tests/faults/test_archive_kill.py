"""kill -9 of `manage.py archive --apply` mid-run: the next run takes the dead run's lease over at
once (its database session is gone) and continues; every workflow ends up archived exactly once."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db import connection

from apps.ops import services
from apps.ops.models import ArchivedWorkflow, ArchiveRun
from apps.workflows.models import Workflow

from .conftest import make_workflow, manage, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("clean_archive"),
    pytest.mark.slow,
]


def test_killed_archive_run_is_continued_by_the_next_run(children, settings):
    settings.OPS_ARCHIVE_HEARTBEAT_SECONDS = 30  # silence alone would take 90 s: not the path
    old = {make_workflow(age_days=400, tasks=2, dependencies=True).pk for _ in range(20)}
    recent = make_workflow(age_days=5, tasks=1).pk
    # Slow on purpose: one workflow per batch, half a second between batches.
    proc = manage(
        "archive", "--apply", "--older-than", "365", "--batch-size", "1", "--pause", "0.5"
    )
    children.append(proc)
    victim = wait_until(
        lambda: ArchiveRun.objects.filter(outcome="running", batches__gte=3).first(),
        timeout=60,
        what="the archive subprocess to commit 3 batches",
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = time.monotonic()
    assert 3 <= ArchivedWorkflow.objects.count() < len(old)  # stopped mid-run

    # The kill leaves the row "running"; the re-run must continue, not skip.
    run = services.archive_run(older_than_days=365, apply=True)
    takeover_seconds = time.monotonic() - killed_at
    assert run.outcome == "success", run.error
    assert run.details["took_over"][0]["run"] == victim.pk
    assert "database session" in run.details["took_over"][0]["reason"]
    assert takeover_seconds < 60
    victim.refresh_from_db()
    assert victim.outcome == "interrupted"
    assert victim.workflows_moved + run.workflows_moved == len(old)

    assert set(ArchivedWorkflow.objects.values_list("id", flat=True)) == old
    assert list(Workflow.objects.values_list("id", flat=True)) == [recent]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT id) FROM archive.tasks_task WHERE workflow_id = ANY(%s)",
            [sorted(old)],
        )
        assert cursor.fetchone() == (2 * len(old), 2 * len(old))
    print(f"\nlease taken over {takeover_seconds:.2f} s after kill -9")
