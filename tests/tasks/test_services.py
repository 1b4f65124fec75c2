import pytest
from django.core.exceptions import ValidationError

from apps.tasks.models import Task, TaskDependency
from apps.tasks.services import task_create, task_dependency_create, task_status_update
from tests.factories.domain import TaskFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def test_task_create_with_subtask():
    workflow = WorkflowFactory()
    parent = task_create(
        workflow=workflow,
        title="Implement OAuth2 Authentication",
        requirements=["OAuth2 library integration"],
        acceptance_criteria=["Users can login with GitHub"],
        priority=9,
        estimated_effort=8,
    )
    child = task_create(workflow=workflow, title="Google provider", parent=parent)
    assert list(parent.subtasks.all()) == [child]
    assert parent.requirements == ["OAuth2 library integration"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": ""}, "title"),
        ({"title": "x", "priority": 11}, "priority"),
        ({"title": "x", "status": "waiting"}, "status"),
    ],
)
def test_task_create_bad_input_names_the_task_and_writes_nothing(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        task_create(workflow=WorkflowFactory(), **kwargs)
    assert not Task.objects.exists()


def test_task_create_refuses_parent_from_another_workflow():
    parent = TaskFactory()
    with pytest.raises(ValidationError, match="another workflow"):
        task_create(workflow=WorkflowFactory(), title="x", parent=parent)


def test_task_status_update_sets_and_clears_completed_at():
    task = TaskFactory()
    task = task_status_update(task=task, status="done")
    assert task.completed_at is not None
    task = task_status_update(task=task, status="in_progress")
    assert task.completed_at is None


def test_task_status_update_illegal_transition_is_a_validation_error_naming_the_task():
    task = TaskFactory(title="Ship it", status="done")
    with pytest.raises(
        ValidationError, match=r"Ship it.*illegal status transition done -> blocked"
    ):
        task_status_update(task=task, status="blocked")
    task.refresh_from_db()
    assert task.status == "done"


def test_task_dependency_create_and_duplicate():
    a, b = TaskFactory.create_batch(2, workflow=WorkflowFactory())
    task_dependency_create(task=a, depends_on=b, type="requires")
    with pytest.raises(ValidationError, match="already exists"):
        task_dependency_create(task=a, depends_on=b)
    assert TaskDependency.objects.count() == 1


def test_task_dependency_create_refuses_cycle_naming_it():
    a, b, c = TaskFactory.create_batch(3, workflow=WorkflowFactory())
    task_dependency_create(task=a, depends_on=b)
    task_dependency_create(task=b, depends_on=c)
    with pytest.raises(
        ValidationError, match=rf"dependency cycle: task {c.pk} -> {a.pk} -> {b.pk} -> {c.pk}"
    ):
        task_dependency_create(task=c, depends_on=a)
    assert TaskDependency.objects.count() == 2


def test_task_dependency_create_refuses_self_and_bad_type():
    task = TaskFactory()
    with pytest.raises(ValidationError, match="cannot depend on itself"):
        task_dependency_create(task=task, depends_on=task)
    with pytest.raises(ValidationError, match="Dependency type"):
        task_dependency_create(
            task=task, depends_on=TaskFactory(workflow=task.workflow), type="likes"
        )
    assert not TaskDependency.objects.exists()
