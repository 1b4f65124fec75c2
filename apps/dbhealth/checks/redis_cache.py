"""The Redis cache's hit rate: keyspace_hits / (hits + misses) from INFO of the cache's server.

The counters are the server's since it started (the broker shares the server, so its lookups
count too); a trend takes the ratio of the differences between two snapshots. Redis down gives
`available: False` with the reason, never an exception.
"""

from __future__ import annotations

from typing import Any

from apps.core import cache_redis


def hit_ratio(hits: int | None, misses: int | None) -> float | None:
    if hits is None or misses is None or hits + misses <= 0:
        return None
    return hits / (hits + misses)


def cache_stats(alias: str = "default") -> dict[str, Any]:
    try:
        info = cache_redis.client(alias).info("stats")
    except cache_redis.REDIS_ERRORS as exc:
        text = str(exc).strip().splitlines()
        return {
            "available": False,
            "error": f"Redis unavailable: {text[0] if text else type(exc).__name__}"[:200],
            "hits": None,
            "misses": None,
            "hit_ratio": None,
        }
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    return {
        "available": True,
        "error": "",
        "hits": hits,
        "misses": misses,
        "hit_ratio": hit_ratio(hits, misses),
    }
