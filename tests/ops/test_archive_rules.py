"""Archive rules: a restored workflow stays live until it is completed again; a workflow that a
live task depends on stays live (its edges are never moved away from the live task)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.ops import services
from apps.ops.models import ArchivedWorkflow, ArchiveHold
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow

from .conftest import make_workflow

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("clean_archive"),
]


def archive(days: int = 365, **kwargs):
    return services.archive_run(older_than_days=days, apply=True, **kwargs)


def test_a_restored_workflow_is_left_live_until_it_is_completed_again():
    workflow = make_workflow(age_days=400, tasks=2)
    archive()
    services.archive_restore(workflow_id=workflow.pk)
    assert ArchiveHold.objects.filter(workflow_id=workflow.pk).exists()

    run = archive()  # still old and completed, but staff brought it back
    assert run.workflows_moved == 0 and Workflow.objects.filter(pk=workflow.pk).exists()
    assert run.details["kept_live"]["restored"]["workflows"] == 1
    assert run.details["kept_live"]["restored"]["sample"][0]["workflow"] == workflow.pk
    dry = services.archive_run(older_than_days=365)
    assert dry.details["would_move"]["workflows"] == 0
    assert dry.details["kept_live"]["restored"]["workflows"] == 1

    # Completed again (later than the restore): archivable once old enough, and the hold goes.
    Workflow.objects.filter(pk=workflow.pk).update(completed_at=timezone.now())
    again = archive(days=0)
    assert again.workflows_moved == 1 and ArchivedWorkflow.objects.filter(pk=workflow.pk).exists()
    assert not ArchiveHold.objects.filter(workflow_id=workflow.pk).exists()


def test_a_workflow_a_live_task_depends_on_stays_live_and_the_run_says_why():
    upstream = make_workflow(age_days=400, tasks=2)
    live = make_workflow(
        project=upstream.project, age_days=1, status="active", tasks=1, dependencies=False
    )
    upstream_task = Task.objects.filter(workflow=upstream).order_by("pk").last()
    live_task = Task.objects.get(workflow=live)
    edge = TaskDependency.objects.create(task=live_task, depends_on=upstream_task)
    alone = make_workflow(age_days=400, tasks=1)

    out = StringIO()
    call_command("archive", "--apply", "--older-than", "365", stdout=out)
    assert Workflow.objects.filter(pk=upstream.pk).exists()
    assert TaskDependency.objects.filter(pk=edge.pk).exists()  # the live task keeps its edge
    assert ArchivedWorkflow.objects.filter(pk=alone.pk).exists()  # others still move
    assert (
        f"kept live: 1 workflows: a task of another, live workflow depends on one of its tasks "
        f"(e.g. workflow {upstream.pk}: task {live_task.pk} of workflow {live.pk} depends on "
        f"its task {upstream_task.pk})"
    ) in out.getvalue()

    # Once the dependent no longer needs it, the workflow is archived like any other.
    edge.delete()
    assert archive().workflows_moved == 1
    assert ArchivedWorkflow.objects.filter(pk=upstream.pk).exists()


def test_dependents_archived_in_the_same_run_unblock_their_upstream():
    upstream = make_workflow(age_days=400, tasks=1)
    downstream = make_workflow(project=upstream.project, age_days=400, tasks=1)  # old, done
    TaskDependency.objects.create(
        task=Task.objects.get(workflow=downstream), depends_on=Task.objects.get(workflow=upstream)
    )
    run = archive(batch_size=1)
    assert run.workflows_moved == 2 and run.dependencies_moved == 1
    assert "kept_live" not in run.details
    assert not Workflow.objects.exists()
