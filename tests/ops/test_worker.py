"""End to end through a real Celery worker (Redis broker, JSON serialization, own DB session)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from apps.ops import tasks
from apps.ops.models import (
    ArchivedWorkflow,
    Heartbeat,
    MaintenanceRun,
    MatviewRefresh,
    WorkflowSummary,
)
from apps.workflows.models import Workflow

from .conftest import make_workflow

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("celery_worker", "clean_archive"),
    pytest.mark.slow,
]
TIMEOUT = 30


def test_refresh_task_runs_on_the_worker():
    workflow = make_workflow(age_days=3, tasks=2)
    result = tasks.refresh_matview_task.delay("workflow_summary").get(timeout=TIMEOUT)
    assert result["outcome"] == "success" and result["rows"] >= 1
    assert WorkflowSummary.objects.get(workflow_id=workflow.pk).tasks_done == 2
    assert MatviewRefresh.objects.filter(view_name="workflow_summary", outcome="success").exists()


def test_archive_task_runs_on_the_worker():
    old = make_workflow(age_days=400, tasks=3)
    recent = make_workflow(age_days=3, tasks=1)
    result = tasks.archive_task.delay(older_than_days=365, batch_size=10).get(timeout=TIMEOUT)
    assert result == {
        "run": result["run"],
        "outcome": "success",
        "batches": 1,
        "workflows": 1,
        "tasks": 3,
        "dependencies": 2,
        "reconciled": True,
    }
    assert list(Workflow.objects.values_list("pk", flat=True)) == [recent.pk]
    assert ArchivedWorkflow.objects.get().pk == old.pk


def test_maintain_task_runs_on_the_worker():
    result = tasks.maintain_task.delay().get(timeout=TIMEOUT)
    assert set(result) == {"run", "analyze", "retention", "partitions", "vacuum_report"}
    assert {step: r["outcome"] for step, r in result.items()} == dict.fromkeys(result, "success")
    assert MaintenanceRun.objects.filter(step="analyze", applied=True, outcome="success").exists()


def test_heartbeat_task_updates_its_record():
    first = tasks.beat_heartbeat_task.delay().get(timeout=TIMEOUT)
    beat_at = Heartbeat.objects.get(name="beat").beat_at
    assert beat_at.isoformat() == first
    second = tasks.beat_heartbeat_task.delay().get(timeout=TIMEOUT)
    assert Heartbeat.objects.get(name="beat").beat_at > beat_at
    assert datetime.fromisoformat(second) > datetime.fromisoformat(first)
    assert Heartbeat.objects.count() == 1


def test_periodic_refresh_fans_out_one_refresh_per_view():
    from apps.ops.matviews import REGISTRY

    assert tasks.refresh_matviews_task.delay().get(timeout=TIMEOUT) == list(REGISTRY)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        done = set(MatviewRefresh.objects.values_list("view_name", flat=True))
        # Each run's row is written when it starts: wait for the last one to finish too.
        if done == set(REGISTRY) and not MatviewRefresh.objects.filter(outcome="running").exists():
            break
        time.sleep(0.2)
    assert set(MatviewRefresh.objects.values_list("view_name", flat=True)) == set(REGISTRY)
    assert not MatviewRefresh.objects.exclude(outcome="success").exists()
