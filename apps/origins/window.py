"""The newest requests' query counts, shared by every web process through one Redis list, for
the overview's p50/p95 (each gunicorn worker's histogram in /metrics holds only its own requests).

A process buffers counts and writes them in one pipelined RPUSH + LTRIM every FLUSH_EVERY requests
or FLUSH_SECONDS, so a request never waits on Redis; after a failed write the process leaves Redis
alone for RETRY_AFTER_SECONDS (a dead host would otherwise cost a connect timeout per flush).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence

from apps.core import cache_redis

logger = logging.getLogger(__name__)

KEY = "origins:request-queries"
WINDOW = 2000  # requests kept in the shared list (and in each process's own copy)
FLUSH_EVERY = 50
FLUSH_SECONDS = 10.0
RETRY_AFTER_SECONDS = 60.0

_pending: list[int] = []
# This process's own newest counts: what the overview falls back to when Redis is down.
_local: deque[int] = deque(maxlen=WINDOW)
_state = {"flushed_at": time.monotonic(), "blocked_until": 0.0}
_lock = threading.Lock()


def record(queries: int) -> None:
    with _lock:
        _pending.append(queries)
        del _pending[:-WINDOW]  # while Redis is skipped, keep only what the list would keep
        _local.append(queries)
        due = (
            len(_pending) >= FLUSH_EVERY or time.monotonic() - _state["flushed_at"] >= FLUSH_SECONDS
        )
    if due:
        flush()


def flush() -> bool:
    """Write the buffered counts; False when Redis refused them (they are dropped)."""
    with _lock:
        if not _pending or time.monotonic() < _state["blocked_until"]:
            return False
        batch = list(_pending)
        _pending.clear()
        _state["flushed_at"] = time.monotonic()
    try:
        key = cache_redis.key(KEY)
        pipe = cache_redis.client().pipeline(transaction=False)
        pipe.rpush(key, *batch)
        pipe.ltrim(key, -WINDOW, -1)
        pipe.expire(key, 7 * 24 * 3600)
        pipe.execute()
    except cache_redis.REDIS_ERRORS as exc:
        logger.info("request query window not written (Redis unavailable): %s", exc)
        _state["blocked_until"] = time.monotonic() + RETRY_AFTER_SECONDS
        return False
    return True


def percentile(values: Sequence[int], share: float) -> float | None:
    """Nearest-rank percentile (the value at or below which `share` of the requests fall)."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(math.ceil(share * len(ordered)) - 1, 0)])


def summary() -> dict:
    """p50/p95 over the shared window (`source` "shared"), or over this process's own requests
    when Redis is unavailable (`source` "process", with the reason)."""
    flush()
    error = ""
    try:
        values = [int(v) for v in cache_redis.client().lrange(cache_redis.key(KEY), 0, -1)]
        source = "shared"
    except cache_redis.REDIS_ERRORS as exc:
        with _lock:
            values = list(_local)
        source, error = "process", f"Redis unavailable: {str(exc).strip()[:120]}"
    return {
        "requests": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "max": max(values) if values else None,
        "source": source,
        "error": error,
    }


def reset() -> None:
    """Forget every count (tests; a fresh window after a deploy)."""
    with _lock:
        _pending.clear()
        _local.clear()
        _state["blocked_until"] = 0.0
    with contextlib.suppress(*cache_redis.REDIS_ERRORS):
        cache_redis.client().delete(cache_redis.key(KEY))
