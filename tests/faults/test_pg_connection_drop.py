"""The worker's database connection is cut mid-job (pg_terminate_backend, as a PostgreSQL
restart or a failover would): the job fails that attempt, records it, is retried by Celery and
the retry continues the work; nothing is lost or archived twice."""

from __future__ import annotations

import time

import pytest
from django.db import connections

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


def test_job_whose_connection_is_terminated_is_retried_and_continues(children):
    flush_fault_redis()
    old = {make_workflow(age_days=400, tasks=1, dependencies=False).pk for _ in range(10)}
    worker = start_worker(visibility_timeout=300, name="pgdrop")
    children.append(worker)
    first = archive_through_worker()
    # The worker's owner session (the one moving rows), cut as a restart would: by its own role.
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first.holder_pid])
        assert cursor.fetchone()[0] is True
    cut_at = time.monotonic()

    done = wait_until(
        lambda: ArchiveRun.objects.filter(outcome="success", applied=True).first(),
        timeout=60,
        what="the retried archive job to finish",
        step=0.25,
    )
    recovered_after = time.monotonic() - cut_at
    first.refresh_from_db()
    assert first.outcome == "failed" and "terminat" in first.error.lower()
    assert first.workflows_moved + done.workflows_moved == len(old)
    assert set(ArchivedWorkflow.objects.values_list("id", flat=True)) == old
    assert not Workflow.objects.filter(pk__in=old).exists()
    kill_group(worker)
    print(f"\nretried and done {recovered_after:.1f} s after the connection was cut")
