"""The capture triggers build `changes` column by column: every column of the table is there,
in the same form as the whole-row image (`to_jsonb(row)`)."""

import json

import pytest
from django.apps import apps
from django.db import connection

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
