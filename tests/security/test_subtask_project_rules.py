"""A subtask's parent is in the same project as the subtask's workflow, for every writer; moving
a task or a workflow to another project takes no subtask relation or dependency across."""

import threading
from contextlib import contextmanager

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from apps.pg.errors import sqlstate
from apps.tasks.models import Task, TaskDependency
from tests.factories.domain import ProjectFactory, TaskFactory, WorkflowFactory, task_admin_form
from tests.security import dependency_races as races

pytestmark = pytest.mark.django_db

INSERT_SUBTASK = """
INSERT INTO tasks_task (created_at, updated_at, workflow_id, parent_id, title, description, details,
                        test_strategy, status, priority, requirements, acceptance_criteria,
                        assignee, legacy)
VALUES (now(), now(), %s, %s, %s, '', '', '', 'pending', 5, '[]', '[]', '', '{}')
"""


def sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@contextmanager
def refused(match: str):
    """The statement is refused with SQLSTATE 23514 and a message matching `match`."""
    with pytest.raises(IntegrityError, match=match) as info, transaction.atomic():
        yield
    assert sqlstate(info.value) == "23514"


@pytest.fixture
def two_projects():
    here, there = ProjectFactory(name="Here"), ProjectFactory(name="There")
    return (
        WorkflowFactory(project=here, name="main"),
        WorkflowFactory(project=here, name="side"),
        WorkflowFactory(project=there, name="elsewhere"),
    )


def test_raw_insert_of_a_subtask_under_a_parent_of_another_project_is_refused(two_projects):
    main, _, elsewhere = two_projects
    parent = TaskFactory(workflow=elsewhere, title="Foreign parent")
    with refused(
        rf"task \d+ \(Stray child\): parent task {parent.pk} \(Foreign parent\) belongs to "
        rf"project {elsewhere.project_id}, but the task's workflow {main.pk} belongs to "
        rf"project {main.project_id}"
    ):
        sql(INSERT_SUBTASK, [main.pk, parent.pk, "Stray child"])
    assert not Task.objects.filter(title="Stray child").exists()


def test_raw_update_to_a_parent_of_another_project_is_refused(two_projects):
    main, _, elsewhere = two_projects
    child = TaskFactory(workflow=main, title="Child")
    parent = TaskFactory(workflow=elsewhere, title="Foreign parent")
    with refused(rf"task {child.pk} \(Child\): parent task {parent.pk} \(Foreign parent\)"):
        sql("UPDATE tasks_task SET parent_id = %s WHERE id = %s", [parent.pk, child.pk])
    child.refresh_from_db()
    assert child.parent_id is None


def test_a_parent_in_another_workflow_of_the_same_project_is_allowed(two_projects):
    main, side, _ = two_projects
    parent = TaskFactory(workflow=side)
    sql(INSERT_SUBTASK, [main.pk, parent.pk, "Cousin"])
    assert Task.objects.get(title="Cousin").parent == parent


def test_moving_a_parent_to_another_project_without_its_subtasks_is_refused(two_projects):
    main, _, elsewhere = two_projects
    parent = TaskFactory(workflow=main, title="Parent")
    child = TaskFactory(workflow=main, parent=parent, title="Child")
    with refused(
        rf"task {parent.pk} \(Parent\) cannot move to workflow {elsewhere.pk} of project "
        rf"{elsewhere.project_id}: its subtask {child.pk} \(Child\) is in project {main.project_id}"
    ):
        sql("UPDATE tasks_task SET workflow_id = %s WHERE id = %s", [elsewhere.pk, parent.pk])
    # The family moves together in one statement (the rule checks after the statement).
    sql(
        "UPDATE tasks_task SET workflow_id = %s WHERE id = ANY(%s)",
        [elsewhere.pk, [parent.pk, child.pk]],
    )
    assert set(Task.objects.filter(parent=parent).values_list("workflow", flat=True)) == {
        elsewhere.pk
    }


def test_moving_a_subtask_away_from_its_parents_project_is_refused(two_projects):
    main, _, elsewhere = two_projects
    child = TaskFactory(workflow=main, parent=TaskFactory(workflow=main), title="Child")
    with refused(rf"task {child.pk} \(Child\): parent task"):
        sql("UPDATE tasks_task SET workflow_id = %s WHERE id = %s", [elsewhere.pk, child.pk])


def test_moving_a_task_with_dependencies_to_another_project_is_refused(two_projects):
    main, side, elsewhere = two_projects
    a = TaskFactory(workflow=main, title="A")
    b = TaskFactory(workflow=side, title="B")
    TaskDependency.objects.create(task=a, depends_on=b)
    with refused(rf"task {a.pk} \(A\) cannot move .*: its dependency on task {b.pk} \(B\)"):
        sql("UPDATE tasks_task SET workflow_id = %s WHERE id = %s", [elsewhere.pk, a.pk])
    with refused(rf"task {b.pk} \(B\) cannot move .*: task {a.pk} \(A\) of project"):
        sql("UPDATE tasks_task SET workflow_id = %s WHERE id = %s", [elsewhere.pk, b.pk])


def test_moving_a_workflow_to_another_project_keeps_its_relations_inside(two_projects):
    main, side, elsewhere = two_projects
    parent = TaskFactory(workflow=side, title="Parent")
    TaskFactory(workflow=main, parent=parent, title="Child")
    with refused(
        r"workflow \d+ \(main\) cannot move to project \d+: task \d+ \(Child\) has parent"
    ):
        sql(
            "UPDATE workflows_workflow SET project_id = %s WHERE id = %s",
            [elsewhere.project_id, main.pk],
        )
    with refused(
        r"workflow \d+ \(side\) cannot move to project \d+: task \d+ \(Parent\) has subtask"
    ):
        sql(
            "UPDATE workflows_workflow SET project_id = %s WHERE id = %s",
            [elsewhere.project_id, side.pk],
        )
    # Both workflows together (one statement), or a workflow with inside relations only, move.
    sql(
        "UPDATE workflows_workflow SET project_id = %s WHERE id = ANY(%s)",
        [elsewhere.project_id, [main.pk, side.pk]],
    )
    loner = WorkflowFactory(project=main.project)
    TaskFactory(workflow=loner, parent=TaskFactory(workflow=loner))
    sql(
        "UPDATE workflows_workflow SET project_id = %s WHERE id = %s",
        [elsewhere.project_id, loner.pk],
    )


def test_moving_a_workflow_with_cross_workflow_dependencies_is_refused(two_projects):
    main, side, elsewhere = two_projects
    TaskDependency.objects.create(
        task=TaskFactory(workflow=main, title="A"), depends_on=TaskFactory(workflow=side, title="B")
    )
    with refused(r"workflow \d+ \(main\) cannot move .*: task \d+ \(A\) depends on task \d+ \(B\)"):
        sql(
            "UPDATE workflows_workflow SET project_id = %s WHERE id = %s",
            [elsewhere.project_id, main.pk],
        )
    with refused(r"workflow \d+ \(side\) cannot move .*: task \d+ \(A\) in project \d+ depends"):
        sql(
            "UPDATE workflows_workflow SET project_id = %s WHERE id = %s",
            [elsewhere.project_id, side.pk],
        )


def _task_form(workflow, parent, title: str) -> dict:
    return task_admin_form(workflow=workflow.pk, parent=parent.pk, title=title)


def test_admin_add_form_shows_the_rule_as_a_form_error(admin_client, two_projects):
    main, side, elsewhere = two_projects
    parent = TaskFactory(workflow=elsewhere, title="Foreign parent")
    response = admin_client.post(
        reverse("admin:tasks_task_add"), _task_form(main, parent, "Stray child")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert any(
        f"parent task {parent.pk} (Foreign parent) belongs to project {elsewhere.project_id}" in e
        for e in errors
    ), errors
    assert not Task.objects.filter(title="Stray child").exists()
    # A parent of the same project is accepted.
    ok = admin_client.post(
        reverse("admin:tasks_task_add"), _task_form(main, TaskFactory(workflow=side), "Child")
    )
    assert ok.status_code == 302, ok.context and ok.context["adminform"].form.errors
    assert Task.objects.filter(title="Child", parent__workflow=side).exists()


def test_admin_change_form_refuses_a_parent_of_another_project(admin_client, two_projects):
    main, _, elsewhere = two_projects
    task = TaskFactory(workflow=main, title="Mine")
    parent = TaskFactory(workflow=elsewhere, title="Foreign parent")
    response = admin_client.post(
        reverse("admin:tasks_task_change", args=[task.pk]), _task_form(main, parent, "Mine")
    )
    assert response.status_code == 200
    assert "a subtask&#x27;s parent must be in the same project" in response.content.decode()
    task.refresh_from_db()
    assert task.parent_id is None


def test_admin_inline_subtask_joins_its_parents_workflow(admin_client, two_projects):
    main, _, _ = two_projects
    parent = TaskFactory(workflow=main, title="Parent")
    data = {**_task_form(main, parent, "Parent"), "parent": ""}
    data.update(
        {
            "subtasks-TOTAL_FORMS": 1,
            "subtasks-0-external_key": "",
            "subtasks-0-title": "Inline child",
            "subtasks-0-status": "pending",
            "subtasks-0-priority": 5,
            "subtasks-0-assignee": "",
        }
    )
    response = admin_client.post(reverse("admin:tasks_task_change", args=[parent.pk]), data)
    assert response.status_code == 302
    assert list(parent.subtasks.values_list("title", "workflow")) == [("Inline child", main.pk)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("moved", ["parent task", "parent's workflow"])
def test_a_parent_moved_while_a_subtask_is_added_is_refused_after_the_wait(two_projects, moved):
    """READ COMMITTED race: the subtask's insert holds key-share locks on its parent and the
    parent's workflow, so a concurrent move of either to another project waits, then sees the
    subtask."""
    main, side, elsewhere = two_projects
    parent = TaskFactory(workflow=side, title="Parent")
    if moved == "parent task":
        move_sql, params = (
            "UPDATE tasks_task SET workflow_id = %s WHERE id = %s",
            [
                elsewhere.pk,
                parent.pk,
            ],
        )
        expected = "its subtask"
    else:
        move_sql, params = (
            "UPDATE workflows_workflow SET project_id = %s WHERE id = %s",
            [
                elsewhere.project_id,
                side.pk,
            ],
        )
        expected = "has subtask"
    outcome: list[str] = []
    with races.connect() as adder, races.connect() as mover:
        adder.execute(INSERT_SUBTASK, [main.pk, parent.pk, "Late child"])

        def move() -> None:
            try:
                mover.execute(move_sql, params)
                mover.commit()
                outcome.append("moved")
            except psycopg.errors.CheckViolation as exc:
                mover.rollback()
                outcome.append(exc.diag.message_primary)

        thread = threading.Thread(target=move)
        thread.start()
        races.wait_until_blocked(mover.info.backend_pid)
        adder.commit()
        thread.join(races.TIMEOUT_S)
    assert len(outcome) == 1 and expected in outcome[0] and "(Late child)" in outcome[0], outcome
    parent.refresh_from_db()
    side.refresh_from_db()
    assert (parent.workflow_id, side.project_id) == (side.pk, main.project_id)
