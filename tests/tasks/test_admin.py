"""The task list as people use it: project beside workflow without extra queries, search by
external key and assignee, the workflow-filter notice, bulk status/priority through the database
rule, and a status field offering only the allowed transitions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.tasks.models import TASK_TRANSITIONS, Task
from apps.tasks.services import task_bulk_status_update, task_status_choices
from tests.factories import domain as f

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:tasks_task_changelist")


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("tasker", "t@example.com", "pw")
    client.force_login(user)
    return client


def test_changelist_shows_project_beside_workflow_in_constant_queries(
    staff_client, django_assert_num_queries
):
    f.TaskFactory.create_batch(5)
    with CaptureQueriesContext(connection) as few:
        response = staff_client.get(CHANGELIST)
    f.TaskFactory.create_batch(25)  # other workflows and projects: no N+1 over them
    with django_assert_num_queries(len(few.captured_queries)):
        response = staff_client.get(CHANGELIST)
    task = Task.objects.select_related("workflow__project").first()
    page = response.content.decode()
    assert (
        f'<td class="field-workflow_display"><small>{task.workflow.project.name}</small>'
        f"{task.workflow.name}</td>"
    ) in page


def test_search_by_external_key_assignee_and_title(staff_client):
    workflow = f.WorkflowFactory()
    keyed = f.TaskFactory(workflow=workflow, external_key="15.1", title="Alpha")
    mine = f.TaskFactory(workflow=workflow, assignee="alice@example.com", title="Beta")
    other = f.TaskFactory(workflow=workflow, external_key="15.10", title="Gamma")

    def found(term):
        response = staff_client.get(CHANGELIST, {"q": term})
        assert response.status_code == 200
        return set(response.context["cl"].result_list)

    assert found("15.1") == {keyed}  # exact key, not a prefix of 15.10
    assert found("alice@example.com") == {mine}
    assert found("amm") == {other}
    assert b"an external key (15.1)" in staff_client.get(CHANGELIST).content


def test_search_uses_the_indexes_not_a_scan():
    from django.contrib import admin

    from apps.tasks.admin import TaskAdmin

    f.TaskFactory.create_batch(3)
    qs, _ = TaskAdmin(Task, admin.site).get_search_results(None, Task.objects.all(), "15.1")
    qs = qs.order_by()  # the search predicate alone: the page order is another test's
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "task_external_key_idx" in plan and "task_assignee_status_idx" in plan, plan
    assert "task_title_trgm" in plan, plan


def test_filtered_by_workflow_notice_with_clear_link(staff_client):
    task = f.TaskFactory()
    response = staff_client.get(CHANGELIST, {"workflow__id__exact": task.workflow_id})
    page = response.content.decode()
    assert 'id="workflow-filter"' in page
    assert task.workflow.name in page and task.workflow.project.name in page
    assert 'href="?">clear</a>' in page
    assert 'id="workflow-filter"' not in staff_client.get(CHANGELIST).content.decode()


def test_status_choices_are_the_trigger_table():
    for current, targets in TASK_TRANSITIONS.items():
        offered = [value for value, _label in task_status_choices(current)]
        assert set(offered) == {current, *targets}


def test_change_form_offers_only_allowed_statuses(staff_client):
    task = f.TaskFactory(status="cancelled")
    page = staff_client.get(reverse("admin:tasks_task_change", args=[task.pk])).content.decode()
    select = page[
        page.index('name="status"') : page.index("</select>", page.index('name="status"'))
    ]
    assert 'value="pending"' in select and 'value="cancelled"' in select
    assert 'value="done"' not in select and 'value="blocked"' not in select


def test_bulk_status_refuses_rows_by_key_and_applies_the_rest_whole(staff_client):
    workflow = f.WorkflowFactory()
    ok = f.TaskFactory(workflow=workflow, status="pending", external_key="1")
    done = f.TaskFactory(workflow=workflow, status="done", external_key="2")
    cancelled = f.TaskFactory(workflow=workflow, status="cancelled", external_key="3")
    response = staff_client.post(
        CHANGELIST,
        {
            "action": "change_status",
            "status": "blocked",
            "_selected_action": [ok.pk, done.pk, cancelled.pk],
        },
        follow=True,
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "1 task(s) moved to Blocked" in text
    assert "2 task(s) refused" in text
    assert "2: " in text and "3: " in text and "illegal status transition" in text
    statuses = dict(Task.objects.values_list("external_key", "status"))
    assert statuses == {"1": "blocked", "2": "done", "3": "cancelled"}
    done.refresh_from_db()
    assert done.completed_at is not None  # the refused row kept everything


def test_bulk_status_done_rolls_up_the_workflow():
    workflow = f.WorkflowFactory()
    tasks = f.TaskFactory.create_batch(2, workflow=workflow, status="in_progress")
    outcome = task_bulk_status_update(tasks=tasks, status="done")
    assert len(outcome.changed) == 2 and not outcome.refused
    workflow.refresh_from_db()
    assert workflow.tasks_done == 2


def test_bulk_priority_and_missing_choice(staff_client):
    tasks = f.TaskFactory.create_batch(3, priority=5)
    ids = [t.pk for t in tasks]
    response = staff_client.post(
        CHANGELIST,
        {"action": "change_priority", "priority": "9", "_selected_action": ids},
        follow=True,
    )
    assert "3 task(s) set to priority 9" in " ".join(str(m) for m in response.context["messages"])
    assert set(Task.objects.values_list("priority", flat=True)) == {9}
    response = staff_client.post(
        CHANGELIST,
        {"action": "change_priority", "priority": "", "_selected_action": ids},
        follow=True,
    )
    assert "Choose a priority" in " ".join(str(m) for m in response.context["messages"])
    assert set(Task.objects.values_list("priority", flat=True)) == {9}
