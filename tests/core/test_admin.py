"""Every core-domain admin page renders with a bounded number of queries."""

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.tasks.models import Task
from tests.factories import domain as f

pytestmark = pytest.mark.django_db

FACTORIES = {
    "projects.project": f.ProjectFactory,
    "workflows.workflow": f.WorkflowFactory,
    "tasks.task": f.TaskFactory,
    "tasks.taskdependency": f.TaskDependencyFactory,
    "blueprints.template": f.TemplateFactory,
    "knowledge.article": f.ArticleFactory,
    "components.component": f.ComponentFactory,
    "components.componentcommunication": f.ComponentCommunicationFactory,
    "components.systemhealth": f.SystemHealthFactory,
    "components.learningdata": f.LearningDataFactory,
}
# Queries per page: session + user + the page's own (estimate/count, rows, related).
MAX_CHANGELIST_QUERIES = 8
MAX_CHANGE_QUERIES = 14


def test_every_core_model_is_registered():
    registered = {m._meta.label_lower for m in admin.site._registry}
    assert set(FACTORIES) <= registered


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def _url(label: str, view: str, *args) -> str:
    app_label, model = label.split(".")
    return reverse(f"admin:{app_label}_{model}_{view}", args=args)


@pytest.mark.parametrize("label", sorted(FACTORIES))
def test_changelist_renders_with_bounded_queries(
    label, staff_client, django_assert_max_num_queries
):
    FACTORIES[label].create_batch(30)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        response = staff_client.get(_url(label, "changelist"))
    assert response.status_code == 200
    # The query count does not grow with rows on the page (no N+1).
    FACTORIES[label].create_batch(30)
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        assert staff_client.get(_url(label, "changelist")).status_code == 200


@pytest.mark.parametrize("label", sorted(FACTORIES))
def test_change_and_add_views_render(label, staff_client, django_assert_max_num_queries):
    obj = FACTORIES[label]()
    with django_assert_max_num_queries(MAX_CHANGE_QUERIES):
        response = staff_client.get(_url(label, "change", obj.pk))
    assert response.status_code == 200
    assert staff_client.get(_url(label, "add")).status_code == 200


@pytest.mark.parametrize(
    "label", ["tasks.task", "workflows.workflow", "projects.project", "knowledge.article"]
)
def test_search_renders(label, staff_client):
    FACTORIES[label].create_batch(3)
    assert staff_client.get(_url(label, "changelist"), {"q": "1"}).status_code == 200
    assert staff_client.get(_url(label, "changelist"), {"q": "Task"}).status_code == 200


def test_article_search_box_uses_full_text(staff_client):
    f.ArticleFactory(title="Kubernetes rollouts", content="pods")
    f.ArticleFactory(title="Cooking", content="pasta")
    response = staff_client.get(_url("knowledge.article", "changelist"), {"q": "kubernetes"})
    assert b"Kubernetes rollouts" in response.content
    assert b"Cooking" not in response.content


def test_illegal_status_change_in_admin_is_a_form_error_not_a_crash(staff_client):
    task = f.TaskFactory(status="done", title="Ship")
    data = f.task_admin_form(workflow=task.workflow_id, title=task.title, status="blocked")
    response = staff_client.post(_url("tasks.task", "change", task.pk), data)
    assert response.status_code == 200
    assert b"illegal status transition done -&gt; blocked" in response.content
    assert Task.objects.get(pk=task.pk).status == "done"
    data["status"] = "in_progress"
    response = staff_client.post(_url("tasks.task", "change", task.pk), data)
    assert response.status_code == 302
    assert Task.objects.get(pk=task.pk).status == "in_progress"


def test_cycle_in_admin_is_a_form_error(staff_client):
    dependency = f.TaskDependencyFactory()
    data = {"task": dependency.depends_on_id, "depends_on": dependency.task_id, "type": "blocks"}
    response = staff_client.post(_url("tasks.taskdependency", "add"), data)
    assert response.status_code == 200
    assert b"dependency cycle" in response.content


def test_unfiltered_changelist_uses_the_estimate_not_count(
    staff_client, django_assert_max_num_queries
):
    from django.db import connection

    f.TaskFactory.create_batch(5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        staff_client.get(_url("tasks.task", "changelist"))
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert any("pg_partition_tree" in s for s in sqls)
    assert not any("COUNT(*)" in s.upper() and "LIMIT" not in s.upper() for s in sqls)


# ANALYZE is the owner's; it sees committed rows only.
@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_paginator_takes_the_planner_estimate_above_the_cap(monkeypatch):
    from django.db import connections

    from apps.core.admin import EstimatedCountPaginator, estimated_row_count

    f.TaskFactory.create_batch(12)
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE tasks_task")
    assert estimated_row_count("tasks_task") == 12
    monkeypatch.setattr(EstimatedCountPaginator, "cap", 5)
    unfiltered = EstimatedCountPaginator(Task.objects.all(), 50)
    assert (unfiltered.count, unfiltered.count_is_estimate) == (12, True)
    filtered = EstimatedCountPaginator(Task.objects.filter(priority=5), 50)
    assert (filtered.count, filtered.count_is_capped) == (5, True)


def test_estimate_works_for_partitioned_and_schema_qualified_tables():
    from apps.core.admin import estimated_row_count

    assert estimated_row_count("events_event") >= 0
    assert estimated_row_count('archive"."tasks_task') >= 0
