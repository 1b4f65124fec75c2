"""Archiving: dry run, batches, interruption and resume, restore."""

from __future__ import annotations

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from apps.ops import services
from apps.ops.models import ArchivedTask, ArchivedTaskDependency, ArchivedWorkflow, ArchiveRun
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow

from .conftest import make_workflow

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("clean_archive"),
]


def counts() -> dict[str, tuple[int, int]]:
    """(live, archived) rows per table."""
    return {
        "workflows": (Workflow.objects.count(), ArchivedWorkflow.objects.count()),
        "tasks": (Task.objects.count(), ArchivedTask.objects.count()),
        "dependencies": (TaskDependency.objects.count(), ArchivedTaskDependency.objects.count()),
    }


def archived_ids_are_unique() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) = count(DISTINCT id) FROM archive.tasks_task)"
            " AND (SELECT count(*) = count(DISTINCT id) FROM archive.workflows_workflow)"
            " AND NOT EXISTS (SELECT 1 FROM archive.tasks_task a JOIN tasks_task t USING (id))"
        )
        return cursor.fetchone()[0]


def test_dry_run_counts_and_moves_nothing():
    make_workflow(age_days=400, tasks=3)  # archivable: 1 workflow, 3 tasks, 2 dependencies
    make_workflow(age_days=400, status="cancelled", tasks=2, dependencies=False)
    make_workflow(age_days=10, tasks=2)  # too recent
    make_workflow(age_days=400, status="active", tasks=2)  # not finished
    before = counts()
    run = services.archive_run(older_than_days=365)
    assert run.outcome == "dry_run"
    assert run.details["would_move"] == {"workflows": 2, "tasks": 5, "dependencies": 2}
    assert counts() == before


def test_archive_moves_old_finished_workflows_in_batches():
    old = [make_workflow(age_days=400, tasks=3) for _ in range(5)]
    recent = make_workflow(age_days=10, tasks=2)
    run = services.archive_run(older_than_days=365, apply=True, batch_size=2)
    assert run.outcome == "success"
    assert run.batches == 3
    assert (run.workflows_moved, run.tasks_moved, run.dependencies_moved) == (5, 15, 10)
    assert run.reconciled
    assert counts() == {"workflows": (1, 5), "tasks": (2, 15), "dependencies": (1, 10)}
    assert set(ArchivedWorkflow.objects.values_list("id", flat=True)) == {w.pk for w in old}
    assert Workflow.objects.get().pk == recent.pk
    # a second run has nothing left to do
    again = services.archive_run(older_than_days=365, apply=True)
    assert (again.outcome, again.workflows_moved) == ("success", 0)


def test_interrupted_archive_resumes_without_loss_or_duplicates(monkeypatch):
    for _ in range(7):
        make_workflow(age_days=400, tasks=3)
    make_workflow(age_days=5, tasks=2)
    original = {table: sum(pair) for table, pair in counts().items()}

    real_batch = services.archive._archive_batch
    calls = {"n": 0}

    def crashing_batch(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed mid-run")
        return real_batch(**kwargs)

    monkeypatch.setattr(services.archive, "_archive_batch", crashing_batch)
    with pytest.raises(RuntimeError, match="worker killed"):
        services.archive_run(older_than_days=365, apply=True, batch_size=2)
    crashed = ArchiveRun.objects.get(outcome="failed")
    assert (crashed.batches, crashed.workflows_moved, crashed.tasks_moved) == (2, 4, 12)
    assert crashed.reconciled
    assert counts()["workflows"] == (4, 4)  # the two committed batches stayed committed

    monkeypatch.setattr(services.archive, "_archive_batch", real_batch)
    resumed = services.archive_run(older_than_days=365, apply=True, batch_size=2)
    assert (resumed.outcome, resumed.workflows_moved, resumed.tasks_moved) == ("success", 3, 9)
    after = counts()
    assert {table: sum(pair) for table, pair in after.items()} == original
    assert after == {"workflows": (1, 7), "tasks": (2, 21), "dependencies": (1, 14)}
    assert archived_ids_are_unique()


def test_a_killed_run_blocks_others_until_its_lease_expires(settings):
    make_workflow(age_days=400, tasks=1)
    ArchiveRun.objects.create(
        started_at="2026-01-01T00:00Z",
        heartbeat_at="2026-01-01T00:00Z",
        applied=True,
        older_than_days=365,
        cutoff="2025-01-01T00:00Z",
        batch_size=10,
        outcome="running",
    )  # a run killed long ago: its lease is stale
    run = services.archive_run(older_than_days=365, apply=True)
    assert run.outcome == "success" and run.workflows_moved == 1
    assert ArchiveRun.objects.filter(outcome="interrupted").count() == 1

    live = ArchiveRun.objects.create(
        started_at=run.started_at,
        heartbeat_at=run.finished_at,
        applied=True,
        older_than_days=365,
        cutoff=run.cutoff,
        batch_size=10,
        outcome="running",
    )  # a run in progress
    skipped = services.archive_run(older_than_days=365, apply=True)
    assert skipped.outcome == "skipped"
    live.delete()


def _snapshot(workflow_id: int) -> dict:
    workflow = Workflow.objects.get(pk=workflow_id)
    tasks = Task.objects.filter(workflow_id=workflow_id).order_by("pk")
    deps = TaskDependency.objects.filter(task__workflow_id=workflow_id).order_by("pk")
    return {
        "workflow": model_to_dict(workflow)
        | {"created_at": workflow.created_at, "updated_at": workflow.updated_at},
        "tasks": [
            model_to_dict(t) | {"created_at": t.created_at, "updated_at": t.updated_at}
            for t in tasks
        ],
        "dependencies": [model_to_dict(d) | {"created_at": d.created_at} for d in deps],
    }


def test_restore_puts_a_workflow_back_intact():
    workflow = make_workflow(age_days=400, tasks=4)
    other = make_workflow(age_days=400, tasks=2)
    before = _snapshot(workflow.pk)
    assert before["workflow"]["tasks_total"] == 4  # counters kept by the roll-up triggers
    services.archive_run(older_than_days=365, apply=True)
    assert not Workflow.objects.filter(pk=workflow.pk).exists()

    result = services.archive_restore(workflow_id=workflow.pk)
    assert result == {"workflows": 1, "tasks": 4, "dependencies": 3}
    assert _snapshot(workflow.pk) == before
    assert not ArchivedWorkflow.objects.filter(pk=workflow.pk).exists()
    assert not ArchivedTask.objects.filter(workflow_id=workflow.pk).exists()
    assert ArchivedWorkflow.objects.filter(pk=other.pk).exists()  # untouched
    with pytest.raises(ValueError, match="not in the archive"):
        services.archive_restore(workflow_id=workflow.pk)
