"""Cache-aside for dashboards and analytics on the shared Redis cache, with invalidation by
generation and a page that still works (slower) when Redis is down.

A cached value's key carries the current generation of every topic it depends on (e.g.
"matview:workflow_summary"); a write that changes a topic bumps its generation (one SET), so
every value built on it misses next time, and the stale entries simply expire with their TTL.
Every cache error is caught: the value is computed live and the call says so (`source`), so a
page can tell staff "cache unavailable, live data". Hits, misses and errors are counted in
`flowbase_cache_requests_total{cache, result}` (prometheus_client's default registry, which
/metrics exports).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.core.cache import caches
from prometheus_client import Counter

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "flowbase_cache_requests_total",
    "Dashboard cache lookups by cache name and result (hit, miss, error: Redis unavailable)",
    ["cache", "result"],
)
GENERATION_PREFIX = "flowbase:gen:"
_MISSING = object()


@dataclass(frozen=True)
class Cached:
    value: Any
    source: Literal["hit", "miss", "unavailable"]

    @property
    def degraded(self) -> bool:
        return self.source == "unavailable"


def _generations(backend, topics: tuple[str, ...]) -> str:
    if not topics:
        return ""
    keys = [GENERATION_PREFIX + topic for topic in topics]
    found = backend.get_many(keys)
    return ".".join(str(found.get(key, 0)) for key in keys)


def _key(name: str, parts: Iterable[Any], generations: str) -> str:
    digest = hashlib.sha1(repr(tuple(parts)).encode()).hexdigest()[:16]
    return f"flowbase:dash:{name}:{generations}:{digest}"


def cached(
    name: str,
    compute: Callable[[], Any],
    *,
    ttl: int,
    parts: Iterable[Any] = (),
    depends_on: Iterable[str] = (),
    alias: str = "default",
) -> Cached:
    """compute()'s value from the cache, or computed and stored for `ttl` seconds.

    name: what is cached (the metric's `cache` label); parts: what varies (filters, page);
    depends_on: topics whose writes invalidate it (see invalidate())."""
    topics = tuple(sorted(set(depends_on)))
    try:
        backend = caches[alias]
        key = _key(name, parts, _generations(backend, topics))
        value = backend.get(key, _MISSING)
    except Exception as exc:  # redis.ConnectionError, TimeoutError, …: degrade, never fail
        REQUESTS.labels(name, "error").inc()
        logger.warning("cache %s unavailable, computing live: %s", name, exc)
        return Cached(compute(), "unavailable")
    if value is not _MISSING:
        REQUESTS.labels(name, "hit").inc()
        return Cached(value, "hit")
    REQUESTS.labels(name, "miss").inc()
    value = compute()
    try:
        backend.set(key, value, ttl)
    except Exception as exc:
        logger.warning("cache %s: could not store: %s", name, exc)
    return Cached(value, "miss")


def invalidate(*topics: str, alias: str = "default") -> bool:
    """Bump the generation of `topics` (call after the write commits); False if Redis is down
    (values then live until their TTL, which bounds how stale a page can be)."""
    if not topics:
        return True
    stamp = time.time_ns()
    try:
        caches[alias].set_many({GENERATION_PREFIX + t: stamp for t in topics}, None)
    except Exception as exc:
        logger.warning("cache invalidation of %s failed: %s", ", ".join(topics), exc)
        return False
    return True


def matview_topic(view_name: str) -> str:
    return f"matview:{view_name}"


ARCHIVE_TOPIC = "archive"
