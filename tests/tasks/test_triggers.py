"""The database rules hold for raw SQL writers too, not only for the services."""

import itertools
import threading
import time

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from apps.tasks.models import Task, TaskDependency
from tests.db import app_session
from tests.factories.domain import ProjectFactory, TaskFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def sql(statement: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def test_updated_at_is_set_by_the_database_on_raw_update():
    task = TaskFactory()
    sql("UPDATE tasks_task SET updated_at = '2001-01-01', title = 'x' WHERE id = %s", [task.pk])
    task.refresh_from_db()
    assert task.updated_at.year > 2001


def test_raw_sql_illegal_transition_is_refused_with_a_clear_message():
    task = TaskFactory(status="cancelled", title="Old idea")
    with (
        pytest.raises(
            IntegrityError,
            match=r"task \d+ \(Old idea\): illegal status transition cancelled -> done",
        ),
        transaction.atomic(),
    ):
        sql("UPDATE tasks_task SET status = 'done' WHERE id = %s", [task.pk])


def test_raw_sql_allowed_transition_sets_and_clears_completed_at():
    task = TaskFactory()
    sql("UPDATE tasks_task SET status = 'done' WHERE id = %s", [task.pk])
    assert sql("SELECT completed_at IS NOT NULL FROM tasks_task WHERE id = %s", [task.pk]) == [
        (True,)
    ]
    sql("UPDATE tasks_task SET status = 'in_progress' WHERE id = %s", [task.pk])
    assert sql("SELECT completed_at FROM tasks_task WHERE id = %s", [task.pk]) == [(None,)]


def test_completed_at_follows_the_status_on_insert_and_when_edited_alone():
    workflow = WorkflowFactory()
    sql(
        "INSERT INTO tasks_task (created_at, updated_at, workflow_id, title, description, details,"
        " test_strategy, status, priority, requirements, acceptance_criteria, assignee, legacy,"
        " completed_at) SELECT now(), now(), %s, s || ' ' || c, '', '', '', s, 5, '[]', '[]', '',"
        " '{}', CASE WHEN c = 'set' THEN timestamptz '2020-01-01' END"
        " FROM unnest(array['done', 'pending']) s, unnest(array['set', 'null']) c",
        [workflow.pk],
    )
    rows = dict(
        sql(
            "SELECT title, completed_at::date::text FROM tasks_task WHERE workflow_id = %s",
            [workflow.pk],
        )
    )
    assert rows["done set"] == "2020-01-01"  # a given completion time is kept
    assert rows["done null"] is not None
    assert rows["pending set"] is None and rows["pending null"] is None
    # An edit of completed_at alone is put right too, not only a status change.
    sql(
        "UPDATE tasks_task SET completed_at = NULL WHERE workflow_id = %s AND status = 'done'",
        [workflow.pk],
    )
    assert sql(
        "SELECT count(*) FROM tasks_task WHERE workflow_id = %s AND status = 'done'"
        " AND completed_at IS NULL",
        [workflow.pk],
    ) == [(0,)]


def test_rows_already_consistent_call_no_row_trigger_function():
    # Bulk inserts and status-less updates pay for no plpgsql call per row: WHEN clauses.
    conditions = dict(
        sql(
            "SELECT tgname, pg_get_triggerdef(oid) LIKE '%%WHEN%%' FROM pg_trigger"
            " WHERE tgrelid = 'tasks_task'::regclass AND tgname LIKE 'pgtrigger_task_status%%'"
        )
    )
    assert len(conditions) == 2 and all(conditions.values()), conditions


def test_workflow_transition_refused_for_raw_sql():
    workflow = WorkflowFactory(name="Nightly")
    with (
        pytest.raises(
            IntegrityError,
            match=r"workflow \d+ \(Nightly\): illegal status transition draft -> failed",
        ),
        transaction.atomic(),
    ):
        sql("UPDATE workflows_workflow SET status = 'failed' WHERE id = %s", [workflow.pk])


def test_progress_rolls_up_excluding_cancelled_and_completes_the_workflow():
    workflow = WorkflowFactory()
    tasks = TaskFactory.create_batch(4, workflow=workflow)
    sql("UPDATE tasks_task SET status = 'done' WHERE id = %s", [tasks[0].pk])
    workflow.refresh_from_db()
    assert (
        workflow.status,
        float(workflow.progress),
        workflow.tasks_total,
        workflow.tasks_done,
    ) == (
        "active",
        25.0,
        4,
        1,
    )
    sql("UPDATE tasks_task SET status = 'cancelled' WHERE id = %s", [tasks[1].pk])
    workflow.refresh_from_db()
    assert float(workflow.progress) == pytest.approx(33.33)
    sql("UPDATE tasks_task SET status = 'done' WHERE id = ANY(%s)", [[tasks[2].pk, tasks[3].pk]])
    workflow.refresh_from_db()
    assert (workflow.status, float(workflow.progress)) == ("completed", 100.0)
    assert workflow.completed_at is not None
    # Reopening a task reopens the workflow; deleting tasks updates the counters.
    sql("UPDATE tasks_task SET status = 'in_progress' WHERE id = %s", [tasks[3].pk])
    workflow.refresh_from_db()
    assert (workflow.status, workflow.completed_at) == ("active", None)
    sql("DELETE FROM tasks_task WHERE id = %s", [tasks[3].pk])
    workflow.refresh_from_db()
    assert (workflow.tasks_total, workflow.tasks_done, float(workflow.progress)) == (2, 2, 100.0)


def test_rollup_counters_match_a_recount_after_bulk_writes():
    workflows = WorkflowFactory.create_batch(3)
    Task.objects.bulk_create(
        Task(
            workflow=workflows[i % 3],
            title=f"t{i}",
            status=["pending", "done", "cancelled"][i % 4 % 3],
        )
        for i in range(300)
    )
    Task.objects.filter(workflow=workflows[0], status="pending").update(status="in_progress")
    recount = sql(
        """SELECT w.id, w.tasks_total, w.tasks_done,
                  count(t.id) FILTER (WHERE t.status <> 'cancelled'), count(t.id) FILTER (WHERE t.status = 'done')
           FROM workflows_workflow w LEFT JOIN tasks_task t ON t.workflow_id = w.id
           GROUP BY w.id ORDER BY w.id"""
    )
    for _, total, done, real_total, real_done in recount:
        assert (total, done) == (real_total, real_done)


def test_cycle_of_any_length_is_refused_for_raw_sql():
    tasks = TaskFactory.create_batch(5, workflow=WorkflowFactory())
    ids = [t.pk for t in tasks]
    for a, b in itertools.pairwise(ids):
        sql(
            "INSERT INTO tasks_taskdependency (task_id, depends_on_id, type, created_at) VALUES (%s, %s, 'blocks', now())",
            [a, b],
        )
    with pytest.raises(IntegrityError, match="dependency cycle"), transaction.atomic():
        sql(
            "INSERT INTO tasks_taskdependency (task_id, depends_on_id, type, created_at) VALUES (%s, %s, 'blocks', now())",
            [ids[-1], ids[0]],
        )
    # A shortcut in the same direction is not a cycle.
    TaskDependency.objects.create(task=tasks[0], depends_on=tasks[3])


def test_dependencies_cross_workflows_only_inside_one_project():
    project = ProjectFactory()
    a = TaskFactory(workflow=WorkflowFactory(project=project))
    b = TaskFactory(workflow=WorkflowFactory(project=project))
    TaskDependency.objects.create(task=a, depends_on=b)
    stranger = TaskFactory()
    with pytest.raises(IntegrityError, match="different projects"), transaction.atomic():
        TaskDependency.objects.create(task=a, depends_on=stranger)


def _connect(*, observer: bool = False, **overrides) -> psycopg.Connection:
    return app_session(observer=observer, **overrides)


def _wait_until_blocked(pid: int, timeout: float = 10.0) -> None:
    with _connect(observer=True, autocommit=True) as observer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = observer.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.05)
    raise AssertionError("the second transaction never waited for the first")


@pytest.mark.django_db(transaction=True)
def test_two_transactions_adding_halves_of_a_cycle_cannot_both_commit():
    a, b = TaskFactory.create_batch(2, workflow=WorkflowFactory())
    insert = (
        "INSERT INTO tasks_taskdependency (task_id, depends_on_id, type, created_at)"
        " VALUES (%s, %s, 'blocks', now())"
    )
    outcome: dict[str, str] = {}
    with _connect() as first, _connect() as second:
        first.execute(insert, [a.pk, b.pk])  # open transaction holding the project's graph row
        second_pid = second.info.backend_pid

        def add_reverse_edge() -> None:
            try:
                second.execute(insert, [b.pk, a.pk])
                second.commit()
                outcome["second"] = "committed"
            except psycopg.errors.CheckViolation as exc:
                second.rollback()
                outcome["second"] = f"refused: {exc.diag.message_primary}"

        thread = threading.Thread(target=add_reverse_edge)
        thread.start()
        _wait_until_blocked(second_pid)  # on the project's dependency-graph row
        first.commit()
        thread.join(timeout=30)
    assert outcome["second"].startswith("refused: dependency cycle"), outcome
    assert list(TaskDependency.objects.values_list("task_id", "depends_on_id")) == [(a.pk, b.pk)]
