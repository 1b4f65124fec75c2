"""apps.core.validation and the JSON field: deep, NUL, surrogate and NaN input is refused with
a message naming the field; rows already stored too deep still render and round-trip."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.core import validation
from apps.core.fields import JSONFormField
from apps.core.validation import TooDeepJSON, check_json, json_depth, parse_id, parse_json
from apps.tasks.models import Task
from tests.factories import domain as f


def deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    ("raw", "depth"), [("1", 0), ("[]", 1), ("[[]]", 2), ('{"a": [{"b": 1}]}', 3)]
)
def test_json_depth(raw, depth):
    assert json_depth(json.loads(raw)) == depth


def test_json_depth_walks_without_recursion():
    value: list = []
    for _ in range(100_000):  # far beyond Python's recursion limit
        value = [value]
    assert json_depth(value) == 100_001
    assert json_depth(value, stop_above=64) == 65


def test_depth_limit_is_a_setting(settings):
    settings.FLOWBASE_JSON_MAX_DEPTH = 3
    assert check_json(json.loads(deep(3)), field="f") == []
    assert check_json(json.loads(deep(4)), field="f") == ["f: JSON is nested deeper than 3 levels"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (deep(65), "requirements: JSON is nested deeper than 64 levels"),
        (deep(100_000), "requirements: JSON is nested deeper than 64 levels"),
        ('{"a": "x\\u0000"}', "requirements.a: a string contains a NUL character"),
        ('{"\\u0000": 1}', "requirements: a key contains a NUL character"),
        ('["\\ud800"]', "requirements[0]: a string contains a lone surrogate (U+D800)"),
        ("[NaN]", "requirements[0]: nan is not a JSON number"),
        ("1e999", "requirements: inf is not a JSON number"),
        ("9" * 5000, "requirements: not valid JSON"),
        ('{"a": ', "requirements: not valid JSON"),
    ],
)
def test_parse_json_refuses_with_the_field_name(raw, expected):
    with pytest.raises(ValidationError) as caught:
        parse_json(raw, field="requirements")
    assert any(m.startswith(expected) for m in caught.value.messages), caught.value.messages


def test_parse_json_accepts_ordinary_documents():
    assert parse_json('{"a": [1, "two", {"b": null}]}', field="x") == {"a": [1, "two", {"b": None}]}
    assert parse_json(deep(64), field="x") is not None


@pytest.mark.parametrize(
    ("term", "expected"),
    [("42", 42), (" 7 ", 7), ("²", None), ("٣", None), ("0", None), ("-1", None), ("9" * 40, None)],
)
def test_parse_id_takes_ascii_bigints_only(term, expected):
    assert parse_id(term) == expected


def test_text_problems():
    assert validation.text_problem("fine") is None
    assert "NUL" in validation.text_problem("a\x00b")
    assert "surrogate" in validation.text_problem("a\udfffb")


# --- the form field ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [deep(65), deep(100_000), '["\\u0000"]', '["\\ud800"]', "NaN", "9" * 5000]
)
def test_json_form_field_errors_instead_of_crashing(raw):
    field = JSONFormField()
    with pytest.raises(ValidationError):
        field.clean(raw)
    assert field.bound_data(raw, None) == raw  # shown back as typed, not re-encoded


# --- services and the model field ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"title": "a\x00b"}, "title: Contains a NUL character"),
        ({"title": "bad \udc80"}, "title: Contains a lone surrogate"),
        ({"requirements": json.loads(deep(200))}, "requirements: JSON is nested deeper than 64"),
        ({"requirements": ["ok", "x\x00"]}, "requirements: [1]: a string contains a NUL"),
    ],
)
def test_task_create_refuses_and_writes_nothing(kwargs, fragment):
    from apps.tasks.services import task_create

    workflow = f.WorkflowFactory()
    before = Task.objects.count()
    with pytest.raises(ValidationError) as caught:
        task_create(workflow=workflow, **{"title": "t", **kwargs})
    assert any(fragment in m for m in caught.value.messages), caught.value.messages
    assert Task.objects.count() == before


@pytest.mark.django_db
def test_event_log_refuses_deep_payload_and_nul_text():
    from apps.events.services import event_log

    with pytest.raises(ValidationError, match=r"Event payload.*nested deeper"):
        event_log(event_type="x", source_component="c", payload={"a": json.loads(deep(100))})
    with pytest.raises(ValidationError, match=r"Event trace_id.*NUL"):
        event_log(event_type="x", source_component="c", trace_id="t\x00")


@pytest.mark.django_db
def test_rows_stored_too_deep_are_read_as_text_and_written_back_unchanged():
    task = f.TaskFactory(requirements=["ok"])
    stored = deep(2000)
    with connection.cursor() as cursor:  # as a writer that bypassed every check would leave it
        cursor.execute(
            "UPDATE tasks_task SET requirements = %s::jsonb WHERE id = %s", [stored, task.pk]
        )
    task.refresh_from_db()
    assert isinstance(task.requirements, TooDeepJSON)
    assert task.requirements.replace(" ", "") == stored
    task.title = "renamed"
    task.save()  # other columns change; the document is written back as it was
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT requirements = %s::jsonb FROM tasks_task WHERE id = %s", [stored, task.pk]
        )
        assert cursor.fetchone()[0] is True


@pytest.mark.django_db
def test_pages_of_a_row_stored_too_deep_render(admin_client):
    task = f.TaskFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tasks_task SET requirements = %s::jsonb WHERE id = %s", [deep(2000), task.pk]
        )
    for url in (
        f"/admin/tasks/task/{task.pk}/change/",
        "/admin/tasks/task/",
        f"/admin/workflows/workflow/{task.workflow_id}/change/",
        "/admin/audit/auditeventrow/?window=all",
    ):
        assert admin_client.get(url).status_code == 200, url
    # Saving the form unchanged is refused with a field error, and nothing is written.
    page = admin_client.get(f"/admin/tasks/task/{task.pk}/change/").content.decode()
    assert "[[[[" in page


@pytest.mark.django_db
def test_admin_form_names_the_field(admin_client):
    task = f.TaskFactory()
    data = f.task_admin_form(
        workflow=task.workflow_id, title=task.title, status=task.status, requirements=deep(1000)
    )
    response = admin_client.post(f"/admin/tasks/task/{task.pk}/change/", data)
    assert response.status_code == 200
    assert "JSON is nested deeper than 64 levels" in response.content.decode()
    task.refresh_from_db()
    assert task.requirements == []
