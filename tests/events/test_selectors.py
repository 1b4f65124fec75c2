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
