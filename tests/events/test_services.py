from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from apps.events.models import Event, PerformanceMetric
from apps.events.services import event_log, metric_record

pytestmark = pytest.mark.django_db


def test_event_log_writes_every_field_and_takes_the_database_clock():
    before = timezone.now()
    event = event_log(
        event_type="code_generation_completed",
        source_component="codegen-generator",
        target_component="claude-code-validator",
        severity="warning",
        workflow_id=7,
        task_id=11,
        payload={"files_generated": 5, "lines_of_code": 342},
        correlation_id="gen_12345",
        trace_id="trace_67890",
    )
    stored = Event.objects.get(pk=(event.created_at, event.id))
    assert stored.id == event.id and stored.created_at >= before - timedelta(seconds=1)
    assert (stored.severity, stored.workflow_id, stored.task_id) == ("warning", 7, 11)
    assert stored.payload == {"files_generated": 5, "lines_of_code": 342}
    assert (stored.correlation_id, stored.trace_id) == ("gen_12345", "trace_67890")


def test_event_log_accepts_an_explicit_time():
    at = timezone.now() - timedelta(hours=5)
    assert event_log(event_type="x", source_component="y", created_at=at).created_at == at


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"severity": "fatal"}, "severity 'fatal' is not one of: debug, info"),
        ({"event_type": "  "}, "event_type is required"),
        ({"source_component": None}, "source_component is required"),
        ({"payload": ["not", "a", "dict"]}, "payload must be a JSON object"),
        ({"payload": {"when": datetime(2026, 1, 1)}}, "payload is not JSON-serializable"),
        ({"workflow_id": -3}, "workflow_id must be a positive integer"),
        ({"created_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"trace_id": "t" * 101}, "trace_id is 101 characters long; the limit is 100"),
    ],
)
def test_event_log_refuses_bad_input_with_a_clear_error_and_writes_nothing(kwargs, message):
    arguments = {"event_type": "deploy", "source_component": "ci", **kwargs}
    with pytest.raises(ValidationError, match=message):
        event_log(**arguments)
    assert Event.objects.count() == 0


def test_severity_check_constraint_holds_for_raw_sql_too():
    from django.db import IntegrityError, transaction

    refused = pytest.raises(IntegrityError, match="event_severity_valid")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_event (event_type, severity, source_component, target_component,"
            " payload, correlation_id, trace_id) VALUES ('x', 'fatal', 'y', '', '{}', '', '')"
        )


def test_metric_record_happy_path():
    metric = metric_record(
        component="codegen-generator",
        metric_name="success_rate",
        value=97.8,
        unit="percentage",
        tags={"env": "prod"},
    )
    stored = PerformanceMetric.objects.get(pk=(metric.recorded_at, metric.id))
    assert (stored.component, stored.metric_name, stored.value, stored.unit) == (
        "codegen-generator",
        "success_rate",
        97.8,
        "percentage",
    )
    assert PerformanceMetric.objects.filter(tags__contains={"env": "prod"}).count() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": float("nan")}, "value must be finite"),
        ({"value": True}, "value must be a number"),
        ({"value": "12"}, "value must be a number"),
        ({"component": ""}, "component is required"),
        ({"unit": "u" * 21}, "unit is 21 characters long"),
        ({"tags": "env=prod"}, "tags must be a JSON object"),
    ],
)
def test_metric_record_refuses_bad_input_and_writes_nothing(kwargs, message):
    arguments = {"component": "c", "metric_name": "m", "value": 1, **kwargs}
    with pytest.raises(ValidationError, match=message):
        metric_record(**arguments)
    assert PerformanceMetric.objects.count() == 0
