"""kill -9 of a whole worker (master and children) in the middle of the archive job: the message
stays unacked in Redis, another worker gets it back after the visibility timeout, and the
redelivered job takes the dead run's lease over and finishes the work."""

from __future__ import annotations

import os
import signal
import time

import pytest

from apps.ops.models import ArchivedWorkflow, ArchiveRun
from apps.workflows.models import Workflow

from .conftest import (
    archive_through_worker,
    flush_fault_redis,
    kill_group,
    make_workflow,
    start_worker,
    wait_until,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("clean_archive"),
    pytest.mark.slow,
]
VISIBILITY = 6  # seconds; production: the longest job's hard limit + 5 min


def test_job_of_a_killed_worker_is_redelivered_and_done(children):
    flush_fault_redis()
    old = {make_workflow(age_days=400, tasks=1, dependencies=False).pk for _ in range(12)}
    first = start_worker(visibility_timeout=VISIBILITY, name="first")
    children.append(first)
    sent_at = time.monotonic()
    victim = archive_through_worker()
    kill_group(first)
    killed_at = time.monotonic()
    assert ArchivedWorkflow.objects.count() < len(old)

    second = start_worker(visibility_timeout=VISIBILITY, name="second")
    children.append(second)
    done = wait_until(
        lambda: ArchiveRun.objects.filter(outcome="success", applied=True).first(),
        timeout=90,
        what="the redelivered archive job to finish",
        step=0.25,
    )
    redelivered_after = time.monotonic() - killed_at
    assert done.details["took_over"][0]["run"] == victim.pk
    assert set(ArchivedWorkflow.objects.values_list("id", flat=True)) == old
    assert not Workflow.objects.filter(pk__in=old).exists()
    victim.refresh_from_db()
    assert victim.outcome == "interrupted"
    assert victim.workflows_moved + done.workflows_moved == len(old)
    kill_group(second)
    print(
        f"\nredelivered and done {redelivered_after:.1f} s after kill -9"
        f" ({killed_at - sent_at:.1f} s after sending; visibility timeout {VISIBILITY} s)"
    )


def pool_children(master_pid: int) -> list[int]:
    with open(f"/proc/{master_pid}/task/{master_pid}/children") as listing:
        return [int(pid) for pid in listing.read().split()]


def test_job_of_a_killed_pool_child_is_requeued_at_once(children):
    """Only the child running the job dies: task_reject_on_worker_lost makes the master requeue
    the message right away (a visibility timeout of 5 minutes plays no part)."""
    flush_fault_redis()
    old = {make_workflow(age_days=400, tasks=1, dependencies=False).pk for _ in range(8)}
    worker = start_worker(visibility_timeout=300, name="child")
    children.append(worker)
    victim = archive_through_worker()
    [child] = pool_children(worker.pid)
    os.kill(child, signal.SIGKILL)
    killed_at = time.monotonic()
    done = wait_until(
        lambda: ArchiveRun.objects.filter(outcome="success", applied=True).first(),
        timeout=60,
        what="the requeued archive job to finish",
        step=0.25,
    )
    requeued_after = time.monotonic() - killed_at
    assert requeued_after < 60  # far below the 300 s visibility timeout
    assert done.details["took_over"][0]["run"] == victim.pk
    assert set(ArchivedWorkflow.objects.values_list("id", flat=True)) == old
    kill_group(worker)
    print(f"\nrequeued and done {requeued_after:.1f} s after kill -9 of the pool child")
