from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.selectors import audit_row_history
from apps.events.selectors import event_window, metric_series
from tests.factories.audit import AuditEventFactory
from tests.factories.events import EventFactory, PerformanceMetricFactory

pytestmark = pytest.mark.django_db


def test_event_window_is_bounded_and_filtered():
    now = timezone.now()
    inside = EventFactory(created_at=now - timedelta(hours=2), severity="error", workflow_id=3)
    EventFactory(created_at=now - timedelta(hours=2), severity="info", workflow_id=3)
    EventFactory(created_at=now - timedelta(days=3), severity="error", workflow_id=3)
    found = event_window(since=now - timedelta(days=1), workflow_id=3, severities=["error"])
    assert [e.id for e in found] == [inside.id]


def test_metric_series_is_ordered_and_bounded():
    now = timezone.now()
    older = PerformanceMetricFactory(recorded_at=now - timedelta(hours=3), value=1)
    newer = PerformanceMetricFactory(recorded_at=now - timedelta(hours=1), value=2)
    PerformanceMetricFactory(recorded_at=now - timedelta(days=2), value=3)
    PerformanceMetricFactory(recorded_at=now - timedelta(hours=1), metric_name="other")
    series = metric_series(
        component="codegen-generator",
        metric_name="generation_time",
        since=now - timedelta(days=1),
    )
    assert [m.id for m in series] == [older.id, newer.id]


def test_audit_row_history_newest_first():
    now = timezone.now()
    first = AuditEventFactory(row_pk="9", created_at=now - timedelta(minutes=5))
    second = AuditEventFactory(row_pk="9", created_at=now - timedelta(minutes=1))
    AuditEventFactory(row_pk="10")
    assert [a.id for a in audit_row_history(table_name="tasks_task", row_pk=9)] == [
        second.id,
        first.id,
    ]


def test_severity_counts_per_hour_and_day_within_the_bounds():
    from apps.events.selectors import severity_counts

    hour = timezone.now().replace(minute=30, second=0, microsecond=0) - timedelta(hours=5)
    for severity, at in (
        ("error", hour),
        ("error", hour + timedelta(minutes=10)),
        ("info", hour),
        ("info", hour + timedelta(hours=1)),
        ("critical", hour - timedelta(days=3)),  # outside the bounds below
    ):
        EventFactory(severity=severity, created_at=at)
    bounded = event_window(since=hour - timedelta(hours=1))
    start = hour.replace(minute=0)
    assert severity_counts(bounded, bucket="hour") == {
        start: {"error": 2, "info": 1},
        start + timedelta(hours=1): {"info": 1},
    }
    days = severity_counts(event_window(since=hour - timedelta(days=4)), bucket="day")
    assert sum(n for by in days.values() for n in by.values()) == 5
    assert all(at.hour == 0 and at.minute == 0 for at in days)
    assert sum(by.get("critical", 0) for by in days.values()) == 1
