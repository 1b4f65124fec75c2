"""/healthz, /readyz status codes; the /metrics collector is registered once and cached."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.core import REGISTRY

from apps.dbhealth import metrics, selectors

from .helpers import metric_value, metrics_text

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_needs_a_fresh_beat_heartbeat(client):
    from apps.ops.models import Heartbeat

    r = client.get("/readyz")
    body = r.json()
    assert r.status_code == 503 and body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["migrations"]["ok"] and not body["checks"]["beat"]["ok"]

    Heartbeat.objects.create(name="beat", beat_at=timezone.now() - timedelta(hours=1))
    assert client.get("/readyz").status_code == 503
    Heartbeat.objects.filter(name="beat").update(beat_at=timezone.now())
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert metric_value(metrics_text(client), "flowbase_db_beat_heartbeat_age_seconds") < 60


def test_readyz_reports_a_down_database(client, monkeypatch):
    from apps.dbhealth import runner

    def down():
        raise RuntimeError("connection refused")

    monkeypatch.setattr(runner, "ping", down)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["database"] == {
        "ok": False,
        "detail": "connection refused",
    }


def test_collector_registered_once_and_scrapes_read_the_cached_snapshot(client, monkeypatch):
    ours = [c for c in REGISTRY._collector_to_names if isinstance(c, metrics.DbHealthCollector)]
    assert len(ours) == 1
    metrics.register()
    assert (
        len([c for c in REGISTRY._collector_to_names if isinstance(c, metrics.DbHealthCollector)])
        == 1
    )

    calls = []
    real = metrics.snapshot_build
    monkeypatch.setattr(metrics, "snapshot_build", lambda: calls.append(1) or real())
    selectors.cache_clear()
    for _ in range(3):
        text = client.get("/metrics").content.decode()
    assert len(calls) == 1
    assert metric_value(text, "flowbase_db_health_up") == 1.0
    assert metric_value(text, "flowbase_db_cache_hit_ratio", 'kind="heap"') is not None


def test_pages_are_cached_until_refresh(admin_client_dbh, monkeypatch):
    from .conftest import page_url

    admin_client_dbh.get(page_url("overview"))
    calls = []
    real = selectors.overview_report
    monkeypatch.setattr(selectors, "overview_report", lambda: calls.append(1) or real())
    admin_client_dbh.get(page_url("overview"))
    assert calls == []
    page = admin_client_dbh.get(page_url("overview") + "?refresh=1").content.decode()
    assert calls == [1] and "Refresh</a>" in page
