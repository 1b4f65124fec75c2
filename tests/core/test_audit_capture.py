"""Writes to the audited domain tables are captured into AuditEvent by the database."""

import pytest
from django.db import connection
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.factories import domain as f

pytestmark = pytest.mark.django_db


def events(table: str, pk) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(table_name=table, row_pk=str(pk)).order_by("created_at", "id")
    )


def test_insert_update_delete_are_captured_with_changed_fields_only():
    task = f.TaskFactory(title="Draft")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tasks_task SET title = 'Final', priority = 7 WHERE id = %s", [task.pk]
        )
        cursor.execute("DELETE FROM tasks_task WHERE id = %s", [task.pk])
    insert, update, delete = events("tasks_task", task.pk)
    assert insert.action == "INSERT" and insert.changes["title"] == {"new": "Draft"}
    assert update.action == "UPDATE"
    assert update.changes == {
        "title": {"old": "Draft", "new": "Final"},
        "priority": {"old": 5, "new": 7},
    }
    assert delete.action == "DELETE" and delete.changes["title"] == {"old": "Final"}
    assert insert.txid is not None


@pytest.mark.parametrize(
    ("factory", "table"),
    [
        (f.ProjectFactory, "projects_project"),
        (f.WorkflowFactory, "workflows_workflow"),
        (f.TaskDependencyFactory, "tasks_taskdependency"),
        (f.TemplateFactory, "blueprints_template"),
        (f.ArticleFactory, "knowledge_article"),
    ],
)
def test_every_audited_table_is_captured(factory, table):
    obj = factory()
    assert [e.action for e in events(table, obj.pk)] == ["INSERT"]


def test_update_without_real_change_writes_no_audit_row():
    project = f.ProjectFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE projects_project SET name = name WHERE id = %s", [project.pk])
    assert [e.action for e in events("projects_project", project.pk)] == ["INSERT"]


def test_bulk_insert_writes_one_row_per_record():
    workflow = f.WorkflowFactory()
    tasks = f.TaskFactory._meta.model.objects.bulk_create(
        [f.TaskFactory.build(workflow=workflow) for _ in range(50)]
    )
    assert (
        AuditEvent.objects.filter(
            table_name="tasks_task", row_pk__in=[str(t.pk) for t in tasks]
        ).count()
        == 50
    )


def test_admin_change_records_the_acting_user_and_request_id(client, django_user_model):
    user = django_user_model.objects.create_superuser("auditor", "a@example.com", "pw")
    client.force_login(user)
    project = f.ProjectFactory(name="Apollo")
    response = client.post(
        reverse("admin:projects_project_change", args=[project.pk]),
        {"name": "Apollo 11", "slug": project.slug, "status": "active", "settings": "{}"},
        HTTP_X_REQUEST_ID="req-42",
    )
    assert response.status_code == 302
    update = events("projects_project", project.pk)[-1]
    assert (update.action, update.actor_id, update.request_id) == ("UPDATE", user.pk, "req-42")
    assert update.changes["name"] == {"old": "Apollo", "new": "Apollo 11"}
