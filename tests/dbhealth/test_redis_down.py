"""Redis down: every Database page and /metrics still answer (built live, no 500), the report
says the cache is unavailable; Activity and locks is never served from the cache."""

from __future__ import annotations

import socket

import pytest

from apps.dbhealth import selectors

from .conftest import PAGES, page_url
from .helpers import metric_value

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])


def _closed_port() -> int:
    with socket.socket() as s:  # bound then released: nothing listens there now
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }


def test_pages_and_metrics_degrade_without_redis(redis_down, admin_client_dbh):
    for name in PAGES:
        response = admin_client_dbh.get(page_url(name))
        assert response.status_code == 200, name
    report = selectors.cached("overview", selectors.overview_report)
    assert report["cache_unavailable"].startswith("cache unavailable")
    text = admin_client_dbh.get("/metrics").content.decode()
    assert metric_value(text, "flowbase_db_health_up") == 1.0


def test_activity_is_never_served_from_the_cache(admin_client_dbh, monkeypatch):
    calls = []
    real = selectors.activity_report
    monkeypatch.setattr(selectors, "activity_report", lambda: calls.append(1) or real())
    for _ in range(3):
        assert admin_client_dbh.get(page_url("activity")).status_code == 200
    assert calls == [1, 1, 1]
