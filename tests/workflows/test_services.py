import pytest
from django.core.exceptions import ValidationError

from apps.tasks.services import task_create, task_status_update
from apps.workflows.models import Workflow
from apps.workflows.services import (
    workflow_analytics_update,
    workflow_create,
    workflow_status_update,
    workflow_update,
)
from tests.factories.domain import ProjectFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def test_workflow_create_counts_definition_nodes():
    project = ProjectFactory()
    workflow = workflow_create(
        project=project,
        name="Feature Development Workflow",
        definition={"nodes": [{"id": "a"}, {"id": "b"}], "connections": {}},
        tags=["n8n"],
    )
    assert workflow.node_count == 2
    assert workflow.status == "draft"


def test_workflow_create_bad_input_writes_nothing():
    project = ProjectFactory()
    with pytest.raises(ValidationError, match="phase"):
        workflow_create(project=project, name="W", phase="dreaming")
    workflow_create(project=project, name="W")
    with pytest.raises(ValidationError, match="already has a workflow with this name"):
        workflow_create(project=project, name="W")
    assert Workflow.objects.count() == 1


def test_workflow_update_writes_only_what_changed_and_recounts_nodes():
    workflow = workflow_create(project=ProjectFactory(), name="W", tags=["a"])
    definition = {"nodes": [{"id": "a"}, {"id": "b"}, {"id": "c"}], "connections": {}}
    changed = workflow_update(workflow=workflow, name=" W ", tags=["a"], definition=definition)
    assert sorted(changed) == ["definition", "node_count"]
    workflow.refresh_from_db()
    assert (workflow.name, workflow.node_count) == ("W", 3)
    assert workflow_update(workflow=workflow, definition=definition, tags=["a"]) == []


def test_workflow_update_refuses_what_a_create_refuses():
    project = ProjectFactory()
    workflow_create(project=project, name="Taken")
    other = workflow_create(project=project, name="Other")
    with pytest.raises(ValidationError, match="already has a workflow with this name"):
        workflow_update(workflow=other, name="Taken")
    with pytest.raises(ValueError, match="status"):
        workflow_update(workflow=other, status="active")
    other.refresh_from_db()
    assert other.name == "Other"


def test_workflow_status_update_follows_the_transition_table():
    workflow = WorkflowFactory()
    workflow = workflow_status_update(workflow=workflow, status="active", phase="development")
    assert workflow.started_at is not None
    workflow = workflow_status_update(workflow=workflow, status="completed")
    assert workflow.completed_at is not None


def test_workflow_status_update_refuses_illegal_transition_naming_the_workflow():
    workflow = WorkflowFactory(name="Release 7")
    with pytest.raises(
        ValidationError, match=r"Release 7.*illegal status transition draft -> paused"
    ):
        workflow_status_update(workflow=workflow, status="paused")
    workflow.refresh_from_db()
    assert workflow.status == "draft"


def test_workflow_status_update_rejects_unknown_status():
    with pytest.raises(ValidationError, match="not one of"):
        workflow_status_update(workflow=WorkflowFactory(), status="sleeping")


def test_workflow_analytics_update_stores_counts():
    workflow = WorkflowFactory()
    done = task_create(workflow=workflow, title="a", estimated_effort=3)
    task_create(workflow=workflow, title="b", estimated_effort=2)
    task_status_update(task=done, status="done")
    analytics = workflow_analytics_update(workflow=workflow)
    assert analytics["tasks_by_status"]["done"] == 1
    assert analytics["tasks_total"] == 2
    assert analytics["estimated_effort"] == 5.0
    assert Workflow.objects.get(pk=workflow.pk).metrics["progress"] == 50.0
