"""Dashboard cache: hits and misses counted, writes invalidate what they change, and a Redis
that is down makes pages slower (computed live), never broken."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from prometheus_client import REGISTRY, generate_latest

from apps.ops import cache, services


def count(name: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "flowbase_cache_requests_total", {"cache": name, "result": result}
    )
    return value or 0.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_hits_and_misses_are_counted_and_exported():
    name, calls = unique("test-dash"), []

    def compute():
        calls.append(1)
        return {"rows": 3}

    first = cache.cached(name, compute, ttl=60, parts=("p", 1))
    second = cache.cached(name, compute, ttl=60, parts=("p", 1))
    other = cache.cached(name, compute, ttl=60, parts=("p", 2))
    assert (first.source, second.source, other.source) == ("miss", "hit", "miss")
    assert second.value == {"rows": 3} and len(calls) == 2
    assert (count(name, "hit"), count(name, "miss")) == (1, 2)
    assert b"flowbase_cache_requests_total" in generate_latest(REGISTRY)


def test_a_write_to_a_topic_invalidates_what_depends_on_it():
    name, topic = unique("test-dash"), unique("topic")
    values = iter(range(10))
    read = lambda: cache.cached(name, lambda: next(values), ttl=60, depends_on=[topic])  # noqa: E731
    assert read().value == 0 and read().value == 0
    assert cache.invalidate(topic)
    assert read().source == "miss" and read().value == 1


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_matview_refresh_invalidates_dashboards_built_on_the_view():
    name, values = unique("test-dash"), iter(range(10))
    topic = cache.matview_topic("workflow_summary")
    read = lambda: cache.cached(name, lambda: next(values), ttl=60, depends_on=[topic])  # noqa: E731
    assert read().value == 0 and read().source == "hit"
    assert services.matview_refresh(name="workflow_summary").outcome == "success"
    assert read().value == 1


def test_redis_down_degrades_to_a_live_computation(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        **settings.CACHES,
        "down": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"},
    }
    name = unique("test-dash")
    started = time.monotonic()
    result = cache.cached(name, lambda: "live", ttl=60, depends_on=["t"], alias="down")
    assert time.monotonic() - started < 2
    assert (result.value, result.source, result.degraded) == ("live", "unavailable", True)
    assert count(name, "error") == 1
    assert cache.invalidate("t", alias="down") is False
