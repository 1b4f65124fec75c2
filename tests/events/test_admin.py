import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from apps.events.models import EventRow, PerformanceMetricRow
from apps.pg import partitioning as partitions
from apps.pg.partitioning.admin import window_bounds
from tests.factories.domain import TaskFactory
from tests.factories.events import EventFactory, PerformanceMetricFactory

pytestmark = pytest.mark.django_db


def _changelist_queryset(rf, admin_user, model, query=""):
    request = rf.get(f"/admin/?{query}")
    request.user = admin_user
    return admin.site._registry[model].get_changelist_instance(request).get_queryset(request)


def _scanned_partitions(queryset, table: str) -> set[str]:
    plan = queryset.explain()
    return set(re.findall(rf"\bon ({table}_(?:p\d+|default))\b", plan))


def _expected_partitions(table: str, window: str) -> set[str]:
    lower, upper = window_bounds(window)
    return {
        p.name
        for p in partitions.partition_list(table)
        if not p.is_default and p.range_from < upper and lower < p.range_to
    }


@pytest.mark.parametrize(
    ("model", "table"),
    [(EventRow, "events_event"), (PerformanceMetricRow, "events_performancemetric")],
)
def test_default_window_prunes_to_the_last_seven_days_partitions(rf, admin_user, model, table):
    scanned = _scanned_partitions(_changelist_queryset(rf, admin_user, model), table)
    expected = _expected_partitions(table, "7d")
    assert scanned == expected
    assert f"{table}_default" not in scanned
    everything = _scanned_partitions(
        _changelist_queryset(rf, admin_user, model, "window=all"), table
    )
    assert scanned < everything  # "all" reads more: the filter is what prunes


def test_the_events_chart_reads_only_the_partitions_its_window_prunes_to(rf, admin_user):
    from apps.events.selectors import severity_count_rows

    for window, bucket in (("7d", "hour"), ("30d", "day")):
        rows = _changelist_queryset(rf, admin_user, EventRow, f"window={window}")
        scanned = _scanned_partitions(severity_count_rows(rows, bucket=bucket), "events_event")
        assert scanned == _expected_partitions("events_event", window)


def test_event_changelist_is_bounded_and_shows_only_the_window(
    admin_client, django_assert_max_num_queries
):
    # Ten distinct tasks/workflows: without list_select_related this page would run 20+ queries.
    for task in TaskFactory.create_batch(10):
        EventFactory(workflow=task.workflow, task=task)
    EventFactory(event_type="ancient_history", created_at=timezone.now() - timedelta(days=20))
    url = reverse("admin:events_eventrow_changelist")
    # 9: session, user, scope, estimate, count, page, chart state (roll-up), chart, scope reset
    with django_assert_max_num_queries(9):
        response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("step_completed_") == 10 and "ancient_history" not in page
    assert "ancient_history" in admin_client.get(url + "?window=30d").content.decode()


def test_event_search_by_correlation_id_is_exact(admin_client):
    EventFactory(correlation_id="gen_777", event_type="wanted")
    EventFactory(correlation_id="gen_7770", event_type="unwanted")
    response = admin_client.get(reverse("admin:events_eventrow_changelist") + "?q=gen_777")
    page = response.content.decode()
    assert response.status_code == 200 and "wanted" in page and "unwanted" not in page


def test_metric_changelist_and_change_page(admin_client, django_assert_max_num_queries):
    metrics = PerformanceMetricFactory.create_batch(25)
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:events_performancemetricrow_changelist"))
    assert response.status_code == 200
    detail = admin_client.get(
        reverse("admin:events_performancemetricrow_change", args=[metrics[0].id])
    )
    assert detail.status_code == 200
    assert not admin.site._registry[PerformanceMetricRow].has_change_permission(None)


def test_exact_search_reaches_every_arm_through_an_index(rf, admin_user):
    from tests.db import plan_with_seqscan_off

    request = rf.get("/", {"q": "0af7651916cd43dd"})
    request.user = admin_user
    model_admin = admin.site._registry[EventRow]
    found, _ = model_admin.get_search_results(request, EventRow.objects.all(), "0af7651916cd43dd")
    plan = plan_with_seqscan_off(found)
    # each partition's copy of the index (not the workflow's index scanned whole)
    assert re.search(r"events_event_(p\d+|default)_event_type_created_at_idx ", plan), plan
    assert "_correlation_id_idx " in plan, plan
    assert "_trace_id_idx " in plan, plan
