"""Section reports in Redis for a short TTL; every read and write survives Redis being down
(the report is then built live and says `cache_unavailable`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from redis.exceptions import RedisError

from . import conf, sections

logger = logging.getLogger(__name__)

# What the cache raises when Redis is unreachable (Django's RedisCache lets redis-py's errors
# through; socket errors are OSError).
CACHE_ERRORS = (RedisError, OSError)

EXTRA_KEYS = ("metrics", "metrics-lock", "findings-synced")


def _prefix() -> str:
    """`dbhealth:v1:<database>:`: two databases sharing one Redis never mix their reports."""
    return f"dbhealth:v1:{connection.settings_dict['NAME']}:"


def cache_key(name: str) -> str:
    return _prefix() + name


def _section_ttl(name: str, ttl: int | None) -> int:
    section = sections.BY_NAME.get(name.split(":", 1)[0])
    default = conf.get("PAGE_CACHE_SECONDS")
    if section is not None and section.cache_seconds is not None:
        default = section.cache_seconds
        ttl = min(ttl, default) if ttl is not None else default
    return ttl if ttl is not None else default


def cached(
    name: str, builder: Callable[[], dict], *, refresh: bool = False, ttl: int | None = None
) -> dict:
    """A report from Redis, or built now (and stored) when missing or `refresh` is asked.
    Sections the registry marks `cache_seconds=0` (live by nature) are always built now."""
    ttl = _section_ttl(name, ttl)
    key = cache_key(name)
    if not refresh and ttl > 0:
        try:
            hit = cache.get(key)
        except CACHE_ERRORS as exc:
            return _uncached(builder, exc)
        if hit is not None:
            return hit
    report = builder()
    report.setdefault("computed_at", timezone.now())
    if ttl > 0:
        try:
            cache.set(key, report, ttl)
        except CACHE_ERRORS as exc:
            report["cache_unavailable"] = _reason(exc)
    return report


def _uncached(builder: Callable[[], dict], exc: Exception) -> dict:
    report = builder()
    report.setdefault("computed_at", timezone.now())
    report["cache_unavailable"] = _reason(exc)
    return report


def _reason(exc: Exception) -> str:
    logger.warning("dbhealth cache unavailable: %s", exc)
    text = str(exc).strip().splitlines()
    return f"cache unavailable: {text[0] if text else type(exc).__name__}"[:200]


def cache_put(name: str, report: dict) -> None:
    report.setdefault("computed_at", timezone.now())
    ttl = _section_ttl(name, None)
    if ttl <= 0:
        return
    try:
        cache.set(cache_key(name), report, ttl)
    except CACHE_ERRORS as exc:
        _reason(exc)


def cache_keys() -> list[str]:
    names = [s.name for s in sections.SECTIONS if s.reported]
    names += [f"queries:{o}" for o in ("total", "mean", "calls")]
    return [cache_key(n) for n in (*names, *EXTRA_KEYS)]


def cache_clear() -> None:
    try:
        cache.delete_many(cache_keys())
    except CACHE_ERRORS as exc:
        _reason(exc)


class _SafeCache:
    """The cache calls the pages make directly, each answering as if the key were absent when
    Redis is down: `add` says "yours" (so the work is done now), `get` None, writes nothing."""

    def get(self, key, default=None):
        try:
            return cache.get(key, default)
        except CACHE_ERRORS as exc:
            _reason(exc)
            return default

    def add(self, key, value, timeout=None) -> bool:
        try:
            return cache.add(key, value, timeout)
        except CACHE_ERRORS as exc:
            _reason(exc)
            return True

    def set(self, key, value, timeout=None) -> None:
        try:
            cache.set(key, value, timeout)
        except CACHE_ERRORS as exc:
            _reason(exc)


safe_cache = _SafeCache()
