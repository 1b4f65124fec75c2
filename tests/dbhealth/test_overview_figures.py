"""Seed 003's figures (server connections and the psycopg pool, the Redis cache hit rate,
queries per request) in /metrics and on the overview; the overview snapshots and their trends."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from prometheus_client.core import REGISTRY

from apps.core import charts
from apps.core.roles.config import roles
from apps.dbhealth import metrics, tasks, trends
from apps.dbhealth.checks import connections as connection_checks
from apps.dbhealth.models import OverviewSnapshot
from apps.origins import window

from .conftest import page_url
from .helpers import metric_value, metrics_text
from .test_redis_down import redis_down  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])


@pytest.fixture(autouse=True)
def _fresh_window():
    window.reset()
    yield
    window.reset()


def _histogram(sample: str) -> float:
    return REGISTRY.get_sample_value(f"flowbase_request_queries_{sample}") or 0.0


def _request_queries(client, url: str) -> int:
    """Statements one request sent on every alias, as the origins middleware counted them."""
    before = _histogram("sum")
    response = client.get(url)
    assert response.status_code == 200, url
    return int(_histogram("sum") - before)


def test_every_request_lands_in_the_histogram_and_the_shared_window(admin_client_dbh):
    count_before, sum_before = _histogram("count"), _histogram("sum")
    for _ in range(7):
        assert admin_client_dbh.get("/admin/").status_code == 200
    assert _histogram("count") - count_before == 7
    summary = window.summary()
    assert summary["source"] == "shared" and summary["requests"] == 7
    # The window holds the same counts the histogram summed.
    assert summary["p50"] >= 1 and summary["p50"] <= summary["p95"] <= summary["max"]
    assert summary["p95"] * 7 >= _histogram("sum") - sum_before >= summary["p50"]


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert window.percentile(values, 0.5) == 50 and window.percentile(values, 0.95) == 95
    assert window.percentile([3], 0.95) == 3 and window.percentile([], 0.5) is None


def test_metrics_carry_connections_redis_and_queries_per_request(admin_client_dbh):
    for _ in range(3):
        admin_client_dbh.get("/admin/")
    text = metrics_text(admin_client_dbh)
    monitor = roles().monitor
    by_app = [
        float(value)
        for value in re.findall(
            rf'^flowbase_db_server_connections\{{application="[^"]*",role="{monitor}"\}} (\S+)$',
            text,
            re.M,
        )
    ]
    assert by_app and sum(by_app) >= 1  # the collector's own catalog read
    usable = metric_value(text, "flowbase_db_max_connections")
    utilisation = metric_value(text, "flowbase_db_connection_utilisation")
    assert usable > 0 and 0 < utilisation <= 1
    assert metric_value(text, "flowbase_redis_up") == 1.0
    hits = metric_value(text, "flowbase_redis_keyspace_hits_total")
    misses = metric_value(text, "flowbase_redis_keyspace_misses_total")
    assert hits + misses > 0
    assert metric_value(text, "flowbase_redis_cache_hit_ratio") == pytest.approx(
        hits / (hits + misses), abs=0.01
    )
    assert metric_value(text, "flowbase_request_queries_window_requests") >= 3
    assert metric_value(text, "flowbase_request_queries_window", 'quantile="0.95"') >= 1


def test_connections_near_the_limit_are_a_finding(settings):
    from apps.dbhealth import selectors

    assert not [
        f for f in selectors.overview_report()["findings"] if f["kind"] == "database.connections"
    ]
    settings.DBHEALTH = {**settings.DBHEALTH, "CONNECTIONS_WARNING_RATIO": 0.001}
    (found,) = [
        f for f in selectors.overview_report()["findings"] if f["kind"] == "database.connections"
    ]
    assert found["severity"] == "warning" and found["evidence"]["connections"] >= 1
    assert any(roles().monitor in top for top in found["evidence"]["top"])


def test_psycopg_pool_utilisation_when_the_pool_is_enabled(monkeypatch):
    options = connections["readonly"].settings_dict["OPTIONS"]
    monkeypatch.setitem(options, "pool", {"min_size": 1, "max_size": 3, "timeout": 5})
    pool = connections["readonly"].pool
    try:
        pool.open(wait=True)
        held = pool.getconn()
        (stats,) = connection_checks.pool_stats()
        assert stats["alias"] == "readonly" and stats["max"] == 3
        assert stats["in_use"] == 1 and stats["utilisation"] == pytest.approx(1 / 3)
        families = {
            name: metrics.GaugeMetricFamily(name, "", labels=["alias", "state"])
            for name in ("flowbase_db_pool_connections",)
        }
        families["flowbase_db_pool_max_size"] = metrics.GaugeMetricFamily("x", "", labels=["alias"])
        metrics.DbHealthCollector._add_pools(families)
        samples = {
            tuple(s.labels.values()): s.value
            for s in families["flowbase_db_pool_connections"].samples
        }
        assert samples[("readonly", "in_use")] == 1.0
        pool.putconn(held)
    finally:
        connections["readonly"].close_pool()


def test_redis_down_overview_says_unavailable_and_metrics_say_so(
    redis_down,  # noqa: F811
    admin_client_dbh,
):
    admin_client_dbh.get("/admin/")
    response = admin_client_dbh.get(page_url("overview"))
    assert response.status_code == 200
    html = response.content.decode()
    card = html.split('id="figure-redis"', 1)[1].split("</div>\n", 1)[0]
    assert "unavailable" in card and "Redis unavailable" in card
    # The queries-per-request card falls back to this process's own requests, and says so.
    assert "of this process only" in html.split('id="figure-queries"', 1)[1].split("</div>\n")[0]
    text = admin_client_dbh.get("/metrics").content.decode()
    assert metric_value(text, "flowbase_redis_up") == 0.0
    assert metric_value(text, "flowbase_redis_keyspace_hits_total") is None


def test_snapshot_task_writes_a_row_and_prunes_old_ones():
    now = timezone.now()
    old = OverviewSnapshot.objects.create(taken_at=now - timedelta(days=15))
    kept = OverviewSnapshot.objects.create(taken_at=now - timedelta(days=13))
    window.record(4)
    window.record(10)
    pk = tasks.overview_snapshot_task()
    snap = OverviewSnapshot.objects.get(pk=pk)
    assert snap.size_bytes > 0 and snap.connections >= 1 and snap.max_connections > 0
    assert 0 < snap.connection_utilisation <= 1 and 0 <= snap.heap_hit_ratio <= 1
    assert snap.redis_hits is not None and snap.redis_misses is not None
    assert (snap.request_queries_p50, snap.request_queries_p95, snap.request_samples) == (4, 10, 2)
    assert set(OverviewSnapshot.objects.values_list("pk", flat=True)) == {kept.pk, pk}
    assert not OverviewSnapshot.objects.filter(pk=old.pk).exists()


def test_snapshot_without_redis_stores_none(redis_down):  # noqa: F811
    snap = OverviewSnapshot.objects.get(pk=tasks.overview_snapshot_task())
    assert snap.redis_hits is None and snap.size_bytes > 0


def _seed(n: int, *, every=timedelta(minutes=15)) -> None:
    now = timezone.now()
    OverviewSnapshot.objects.bulk_create(
        OverviewSnapshot(
            taken_at=now - (n - i) * every,
            size_bytes=50_000_000 + i * 1_000_000,
            heap_hit_ratio=0.95 + i * 0.001,
            index_hit_ratio=0.99,
            connections=5 + i % 3,
            max_connections=100,
            connection_utilisation=0.05 + i * 0.001,
            redis_hits=1000 + i * 90 if i != 3 else None,  # one snapshot with Redis down
            redis_misses=100 + i * 10 if i != 3 else None,
            request_queries_p50=6,
            request_queries_p95=20 + i,
            request_samples=500,
        )
        for i in range(n)
    )


def test_overview_draws_the_trends_of_seeded_snapshots(admin_client_dbh):
    _seed(12)
    html = admin_client_dbh.get(page_url("overview")).content.decode()
    section = html.split('id="overview-snapshot-trends"', 1)[1]
    assert section.count('<svg class="fb-chart"') == 6
    assert "12 snapshots" in section
    assert "90.0%" in section  # the Redis hit rate of an interval: 90 hits, 10 misses
    assert "p95 (last 31)" in section
    html_7d = admin_client_dbh.get(page_url("overview") + "?trend=7d").content.decode()
    assert "hourly means" in html_7d and html_7d.count('<svg class="fb-chart"') >= 6


def test_overview_says_when_the_first_trend_comes(admin_client_dbh):
    html = admin_client_dbh.get(page_url("overview")).content.decode()
    assert "A trend needs two overview snapshots (0 in this range)" in html
    assert "within 30 minutes" in html


def test_overview_queries_stay_bounded_by_snapshot_count(admin_client_dbh):
    _seed(4)
    url = page_url("overview") + "?trend=7d"
    built = _request_queries(admin_client_dbh, url + "&refresh=1")  # the report built now
    cached = _request_queries(admin_client_dbh, url)  # the report from Redis
    _seed(600, every=timedelta(minutes=1))
    assert _request_queries(admin_client_dbh, url + "&refresh=1") == built
    assert _request_queries(admin_client_dbh, url) == cached
    # Measured: 47 and 5 (34 and 4 before the figures, trends and the replication block; every
    # alias, each catalog read being a savepoint, its settings, the statement and the rollback).
    assert built <= 50 and cached <= 8


def test_interval_hit_rate_skips_a_redis_restart():
    rows = [
        {"redis_hits": 100, "redis_misses": 100},
        {"redis_hits": 190, "redis_misses": 110},
        {"redis_hits": 5, "redis_misses": 1},  # restarted: counters went down
        {"redis_hits": 8, "redis_misses": 2},
    ]
    assert trends._interval_hit_ratios(rows) == [None, 0.9, None, 0.75]


def test_line_chart_breaks_at_missing_values():
    svg = str(charts.line_chart(["a", "b", "c", "d"], [("s", "k", [1, 2, None, 4])]))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
    assert charts.line_chart(["a"], [("s", "k", [1])]) == ""
    assert charts.line_chart(["a", "b"], [("s", "k", [None, None])]) == ""
