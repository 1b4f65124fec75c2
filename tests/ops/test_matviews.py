"""Materialized views: contents, concurrent refresh requests, failures, first refresh."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta

import pytest
from django.db import OperationalError, connection, connections
from django.utils import timezone

from apps.ops import services
from apps.ops.matviews import REGISTRY
from apps.ops.models import (
    FormCompletionStats,
    MatviewRefresh,
    ProjectDailyStats,
    WorkflowSummary,
)
from apps.tasks.models import Task
from tests.factories.domain import TemplateFactory
from tests.factories.events import EventFactory
from tests.factories.runs import FormResponseFactory, FormSchemaFactory

from .conftest import make_workflow, raw_connection, wait_for_lock_wait

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def test_every_registered_view_refreshes_and_is_logged():
    workflow = make_workflow(age_days=3)
    TemplateFactory(usage_count=4, success_count=3, failure_count=1)
    EventFactory(project=workflow.project)
    FormResponseFactory()
    for name in REGISTRY:
        record = services.matview_refresh(name=name)
        assert record.outcome == "success", record.error
        assert record.concurrently is True  # populated by its migration
        assert record.rows is not None and record.rows >= 1, name
    assert set(MatviewRefresh.objects.values_list("view_name", flat=True)) == set(REGISTRY)


def test_workflow_summary_counts_progress_and_durations():
    workflow = make_workflow(age_days=3, tasks=4)  # 4 done tasks, durations 20h..23h
    extra = Task.objects.create(workflow=workflow, title="late", status="pending")
    services.matview_refresh(name="workflow_summary")
    row = WorkflowSummary.objects.get(workflow_id=workflow.pk)
    assert (row.tasks_total, row.tasks_done, row.tasks_pending) == (5, 4, 1)
    assert float(row.progress) == 80.0
    assert row.mean_duration == timedelta(hours=21, minutes=30)
    # p90 of 20h, 21h, 22h, 23h (continuous percentile): 22h + 0.7h
    assert row.p90_duration == timedelta(hours=22, minutes=42)
    assert extra.pk  # the pending task has no duration and does not skew the figures


def test_second_concurrent_refresh_of_a_view_is_skipped(settings):
    """Refresh A holds the view's advisory lock while it waits for a table lock; refresh B, asked
    for at that moment, must skip instead of queueing; A then completes."""
    settings.OPS_LOCK_TIMEOUT = "20s"
    make_workflow(age_days=3)
    results = {}
    blocker = raw_connection()
    blocker.execute("LOCK TABLE tasks_task IN ACCESS EXCLUSIVE MODE")  # e.g. a migration

    def first():
        try:
            results["a"] = services.matview_refresh(name="workflow_summary")
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        wait_for_lock_wait("tasks_task")
        results["b"] = services.matview_refresh(name="workflow_summary")
    finally:
        blocker.rollback()
        blocker.close()
        thread.join(30)
    assert results["b"].outcome == "skipped"
    assert "another refresh" in results["b"].error
    assert results["a"].outcome == "success"
    outcomes = sorted(
        MatviewRefresh.objects.filter(view_name="workflow_summary").values_list(
            "outcome", flat=True
        )
    )
    assert outcomes == ["skipped", "success"]


def test_failed_refresh_keeps_old_contents_and_logs_the_error(settings):
    workflow = make_workflow(age_days=3, tasks=2)
    services.matview_refresh(name="workflow_summary")
    assert WorkflowSummary.objects.get(workflow_id=workflow.pk).tasks_total == 2
    Task.objects.create(workflow=workflow, title="new", status="pending")

    settings.OPS_LOCK_TIMEOUT = "200ms"
    blocker = raw_connection()
    blocker.execute("LOCK TABLE tasks_task IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(OperationalError):  # transient: re-raised so Celery retries
            services.matview_refresh(name="workflow_summary")
    finally:
        blocker.rollback()
        blocker.close()

    failed = MatviewRefresh.objects.get(view_name="workflow_summary", outcome="failed")
    assert "lock timeout" in failed.error
    assert failed.rows is None
    assert WorkflowSummary.objects.get(workflow_id=workflow.pk).tasks_total == 2  # old contents

    assert services.matview_refresh(name="workflow_summary").outcome == "success"
    assert WorkflowSummary.objects.get(workflow_id=workflow.pk).tasks_total == 3


def test_first_refresh_of_an_unpopulated_view_is_not_concurrent():
    with connections["owner"].cursor() as cursor:  # the view's owner
        cursor.execute("REFRESH MATERIALIZED VIEW template_effectiveness WITH NO DATA")
    record = services.matview_refresh(name="template_effectiveness", concurrently=True)
    assert record.outcome == "success", record.error
    assert record.concurrently is False
    assert services.matview_refresh(name="template_effectiveness").concurrently is True


def test_unknown_view_is_refused():
    with pytest.raises(ValueError, match="unknown materialized view"):
        services.matview_refresh(name="pg_class")


def test_project_daily_stats_counts_tasks_and_events_by_severity():
    workflow = make_workflow(age_days=0, tasks=3)  # 3 done tasks, opened yesterday
    # Completed today whatever the hour (make_workflow's "hours before now" is yesterday just
    # after midnight UTC).
    Task.objects.filter(workflow=workflow).update(completed_at=timezone.now())
    project = workflow.project
    for severity, n in (("info", 3), ("error", 2), ("critical", 1)):
        for _ in range(n):
            EventFactory(project=project, severity=severity)
    EventFactory(project=project, severity="error", created_at=timezone.now() - timedelta(days=200))
    services.matview_refresh(name="project_daily_stats")
    today = timezone.now().astimezone(UTC).date()
    row = ProjectDailyStats.objects.get(project_id=project.pk, day=today)
    assert (row.tasks_completed, row.events_total) == (3, 6)
    assert (row.events_info, row.events_error, row.events_critical) == (3, 2, 1)
    yesterday = ProjectDailyStats.objects.get(project_id=project.pk, day=today - timedelta(days=1))
    assert (yesterday.tasks_created, yesterday.events_total) == (3, 0)
    # the 200-day-old event is outside the 90-day window
    assert not ProjectDailyStats.objects.filter(day__lt=today - timedelta(days=89)).exists()


def test_form_completion_stats_per_schema_and_day():
    schema = FormSchemaFactory()
    for data in (
        {"status": "complete", "completion_time": 30},
        {"status": "complete", "completion_time": "60"},
        {"status": "draft", "completion_time": "n/a"},  # not numeric: ignored, no failure
    ):
        FormResponseFactory(form_schema=schema, data=data)
    services.matview_refresh(name="form_completion_stats")
    row = FormCompletionStats.objects.get(form_schema_id=schema.pk)
    assert (row.submissions, row.completed, float(row.avg_completion_time)) == (3, 2, 45.0)


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_an_attempt_whose_session_is_gone_is_marked_interrupted_by_the_next_refresh():
    from datetime import timedelta

    from django.utils import timezone

    started = timezone.now() - timedelta(seconds=5)
    killed = MatviewRefresh.objects.create(
        view_name="workflow_summary",
        started_at=started,
        outcome="running",
        holder_pid=2**31 - 7,  # no such session: the worker that ran it was killed
        holder_backend_start=started,
    )
    other_view = MatviewRefresh.objects.create(
        view_name="weekly_task_throughput",
        started_at=started,
        outcome="running",
        holder_pid=2**31 - 7,
        holder_backend_start=started,
    )
    record = services.matview_refresh(name="workflow_summary")
    assert record.outcome == "success" and record.finished_at is not None
    killed.refresh_from_db()
    assert killed.outcome == "interrupted" and "is gone" in killed.error
    assert killed.finished_at is not None
    other_view.refresh_from_db()
    assert other_view.outcome == "running"  # judged by its own view's next refresh
    assert [pk for pk, _ in services.matview_interrupted_mark()] == [other_view.pk]
