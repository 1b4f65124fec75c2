"""Pictures where people look, and human units: server-rendered SVG charts (no script) on the
events, metrics, system-health, workflow and data-quality pages; readable values and JSON."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.core import charts
from apps.core.units import human_bytes, human_count, human_ms, human_seconds
from apps.events.admin import human_value
from tests.factories import domain as f
from tests.factories.events import EventFactory, PerformanceMetricFactory

pytestmark = pytest.mark.django_db


def _rects(svg: str, css: str) -> list[str]:
    return re.findall(rf'<rect [^>]*class="{css}"><title>([^<]*)</title>', svg)


def test_units():
    assert human_bytes(2048) == "2.0 KiB" and human_bytes(512) == "512 B"
    assert human_ms(1_057_714) == "17.6 min" and human_ms(250) == "250 ms"
    assert human_seconds(90_000) == "25.0 h"
    assert human_count(1_234_567) == "1,234,567" and human_count(None) == "\u2013"
    assert human_value(1_057_714, "ms") == "17.6 min"
    assert human_value(2.5, "seconds") == "2.5 s"


def test_stacked_bars_heights_are_proportional_and_titled():
    svg = str(charts.stacked_bars(["a", "b"], [("err", "e", [10, 5]), ("ok", "o", [0, 5])]))
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" class="e"', svg)]
    assert heights[0] == pytest.approx(2 * heights[1])
    assert _rects(svg, "e") == ["a: 10 err", "b: 5 err"]
    assert "<script" not in svg and "style=" not in svg
    assert charts.stacked_bars([], []) == ""


def test_events_chart_counts_by_severity_in_the_window(admin_client):
    now = timezone.now()
    for severity, n in (("info", 3), ("error", 2), ("critical", 1)):
        for _ in range(n):
            EventFactory(severity=severity, created_at=now)
    EventFactory(severity="warning", created_at=now - timedelta(days=20))  # outside 7 days
    page = admin_client.get(reverse("admin:events_eventrow_changelist")).content.decode()
    chart = page[page.index('id="events-chart"') :]
    assert "Events per hour by severity" in page
    assert sum(int(t.split(": ")[1].split()[0]) for t in _rects(chart, "fb-s-error")) == 2
    assert sum(int(t.split(": ")[1].split()[0]) for t in _rects(chart, "fb-s-info")) == 3
    assert not _rects(chart, "fb-s-warning")
    month = admin_client.get(reverse("admin:events_eventrow_changelist") + "?window=30d")
    assert "Events per day by severity" in month.content.decode()
    assert _rects(month.content.decode(), "fb-s-warning")


def test_event_search_says_it_is_exact(admin_client):
    page = admin_client.get(reverse("admin:events_eventrow_changelist")).content.decode()
    assert 'id="searchbar_helptext"' in page and "Exact match" in page


def test_metric_values_in_units_and_sparklines(admin_client):
    for value in (1000.0, 1_057_714.0):
        PerformanceMetricFactory(metric_name="build_time", unit="ms", value=value)
    page = admin_client.get(reverse("admin:events_performancemetricrow_changelist")).content
    page = page.decode()
    assert "17.6 min" in page and "1057714" not in page
    assert 'data-metric="codegen-generator.build_time"' in page and "<polyline" in page


def test_system_health_sparklines_per_component(admin_client):
    component = f.ComponentFactory()
    for ms in (120.0, 1_500.0):
        f.SystemHealthFactory(component=component, response_time_ms=ms)
    page = admin_client.get(reverse("admin:components_systemhealth_changelist")).content
    page = page.decode()
    assert f'data-component="{component.name}"' in page
    assert "1.5 s" in page and "<polyline" in page


def test_workflow_status_breakdown(admin_client):
    workflow = f.WorkflowFactory()
    f.TaskFactory.create_batch(3, workflow=workflow, status="done")
    f.TaskFactory(workflow=workflow, status="blocked")
    page = admin_client.get(
        reverse("admin:workflows_workflow_change", args=[workflow.pk])
    ).content.decode()
    assert _rects(page, "fb-t-done")[0].startswith("Done: 3 (75%)")
    assert _rects(page, "fb-t-blocked")[0].startswith("Blocked: 1 (25%)")
    assert "Done over time" in page


def test_quality_history_is_proportional_and_params_are_json(admin_client):
    from apps.dbhealth.models import DataQualityCheck, DataQualityResult

    check = DataQualityCheck.objects.create(
        name="chart_check", kind="missing", target_table="tasks_task", target_column="title",
        params={"where": "x"},
    )  # fmt: skip
    DataQualityResult.objects.create(
        check_ref=check, ran_at=timezone.now(), failed_count=3, total=10_000, passed=False
    )
    page = admin_client.get(
        reverse("admin:dbhealth_quality_check", args=[check.pk])
    ).content.decode()
    failing = re.findall(r'height="([\d.]+)" class="fb-s-error"', page)
    passing = re.findall(r'height="([\d.]+)" class="fb-t-done"', page)
    assert float(failing[0]) < float(passing[0]) / 100  # a sliver, not a block
    assert "<th>where</th><td>x</td>" in page and "{&#x27;where" not in page


def test_search_count_matches_the_pagination_count(admin_client):
    f.TaskFactory.create_batch(3, title="Needle")
    page = admin_client.get(reverse("admin:tasks_task_changelist"), {"q": "Needle"})
    text = page.content.decode()
    assert "3 results" in text and re.search(r"\b3\s+tasks", text)


def test_matview_refreshes_spelled_right(admin_client):
    from apps.ops.models import MatviewRefresh

    assert MatviewRefresh._meta.verbose_name_plural == "matview refreshes"
