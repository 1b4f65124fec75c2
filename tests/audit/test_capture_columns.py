"""The capture triggers build `changes` column by column: every column of the table is there,
in the same form as the whole-row image (`to_jsonb(row)`)."""

import json

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from apps.audit.documents import expand_row_image
from apps.audit.models import AuditEvent
from apps.audit.triggers import AUDIT_IGNORED_COLUMNS, audited_columns
from tests.factories import domain as f

pytestmark = pytest.mark.django_db


def _audited_models():
    return [
        m
        for m in apps.get_models()
        if any(t.name == "audit_insert" for t in getattr(m._meta, "triggers", []))
    ]


def _row_image(table: str, pk) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_jsonb(t) FROM {table} t WHERE id = %s", [pk])
        image = json.loads(cursor.fetchone()[0])
    return {k: v for k, v in image.items() if k not in AUDIT_IGNORED_COLUMNS}


def _last(table: str, pk, action: str) -> AuditEvent:
    return AuditEvent.objects.filter(table_name=table, row_pk=str(pk), action=action).latest(
        "created_at", "id"
    )


def test_every_table_column_is_audited():
    models = _audited_models()
    assert len(models) >= 8
    for model in models:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                " AND attnum > 0 AND NOT attisdropped",
                [model._meta.db_table],
            )
            table_columns = {name for (name,) in cursor.fetchall()}
        assert set(audited_columns(model)) == table_columns - AUDIT_IGNORED_COLUMNS, model


def test_insert_and_delete_record_the_whole_row_image():
    task = f.TaskFactory(title="Draft", details="")
    image = _row_image("tasks_task", task.pk)
    assert _last("tasks_task", task.pk, "INSERT").changes == {
        k: {"new": v} for k, v in image.items()
    }
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tasks_task WHERE id = %s", [task.pk])
    assert _last("tasks_task", task.pk, "DELETE").changes == {
        k: {"old": v} for k, v in image.items()
    }


def test_update_records_nulls_and_json_values_that_changed():
    task = f.TaskFactory(title="Draft")
    before = _row_image("tasks_task", task.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE tasks_task SET requirements = \'["a", {"b": null}]\', legacy = legacy,'
            " estimated_effort = 2.50, title = 'Final' WHERE id = %s",
            [task.pk],
        )
    after = _row_image("tasks_task", task.pk)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"requirements", "estimated_effort", "title"}
    assert before["estimated_effort"] is None
    assert _last("tasks_task", task.pk, "UPDATE").changes == {
        k: {"old": before[k], "new": after[k]} for k in changed
    }


def test_insert_and_delete_store_one_flat_image_read_back_per_column():
    # Stored flat (half the capture cost of a per-column document), read back per column.
    task = f.TaskFactory(title="Draft")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tasks_task WHERE id = %s", [task.pk])
        cursor.execute(
            "SELECT action, changes FROM audit_auditevent WHERE table_name = 'tasks_task'"
            " AND row_pk = %s ORDER BY id",
            [str(task.pk)],
        )
        stored = {action: json.loads(doc) for action, doc in cursor.fetchall()}
    assert list(stored["INSERT"]) == ["new"] and stored["INSERT"]["new"]["title"] == "Draft"
    assert list(stored["DELETE"]) == ["old"] and stored["DELETE"]["old"]["id"] == task.pk
    assert _last("tasks_task", task.pk, "INSERT").changes["title"] == {"new": "Draft"}


def test_reading_leaves_diffs_actions_and_older_per_column_images_alone():
    diff = {"title": {"old": "a", "new": "b"}}
    older = {"id": {"new": 1}, "title": {"new": "a"}}
    action = {"action": "cancel", "new": {"x": 1}}
    for document in (diff, older, action, {}, [], "text"):
        assert expand_row_image(document) == document
    assert expand_row_image({"old": {"id": 1}}) == {"id": {"old": 1}}


def test_a_column_named_like_an_image_key_is_refused():
    class Columns:
        class _meta:
            label = "x.Y"
            concrete_fields = [type("F", (), {"column": "new"})()]

    with pytest.raises(ImproperlyConfigured, match=r"x\.Y: audited column named"):
        audited_columns(Columns)
