"""The overview's trend charts from its 15-minute snapshots: the last 24 h point by point, the
last 7 d as hourly means. The Redis hit rate of a point is that of its interval (the difference
of the cumulative INFO counters), not the server's since it started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.core import charts, units

from . import selectors
from .checks.redis_cache import hit_ratio

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
SNAPSHOT_MINUTES = 15


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def _interval_hit_ratios(rows: list[dict]) -> list[float | None]:
    """Per snapshot: hits / lookups since the previous one (None first, after a Redis restart
    (counters went down) or when either snapshot had no Redis figures)."""
    out: list[float | None] = []
    prev = None
    for r in rows:
        value = None
        if prev and None not in (r["redis_hits"], r["redis_misses"], *prev):
            dh, dm = r["redis_hits"] - prev[0], r["redis_misses"] - prev[1]
            if dh >= 0 and dm >= 0:
                value = hit_ratio(dh, dm)
        out.append(value)
        prev = (r["redis_hits"], r["redis_misses"])
    return out


def _hourly(rows: list[dict], columns: dict[str, list]) -> tuple[list[str], dict[str, list]]:
    """Hourly means of each column (None values left out; an hour with none is None)."""
    buckets: dict[Any, list[int]] = {}
    for i, r in enumerate(rows):
        hour = timezone.localtime(r["taken_at"]).replace(minute=0, second=0, microsecond=0)
        buckets.setdefault(hour, []).append(i)
    hours = sorted(buckets)
    out = {}
    for name, values in columns.items():
        means = []
        for h in hours:
            present = [values[i] for i in buckets[h] if values[i] is not None]
            means.append(sum(present) / len(present) if present else None)
        out[name] = means
    return [f"{h:%m-%d %H}h" for h in hours], out


def overview_trends(range_name: str) -> dict[str, Any]:
    """Charts of size, buffer cache hit ratio, connections, Redis hit rate and queries per
    request over the range ("24h" or "7d"), or how long until there is a trend to draw."""
    range_name = range_name if range_name in RANGES else "24h"
    rows = selectors.overview_snapshots(since=timezone.now() - RANGES[range_name])
    columns = {
        name: [r[name] for r in rows]
        for name in (
            "size_bytes",
            "heap_hit_ratio",
            "index_hit_ratio",
            "connections",
            "connection_utilisation",
            "request_queries_p50",
            "request_queries_p95",
        )
    }
    columns["redis_hit_ratio"] = _interval_hit_ratios(rows)
    if range_name == "24h":
        labels = [f"{timezone.localtime(r['taken_at']):%H:%M}" for r in rows]
    else:
        labels, columns = _hourly(rows, columns)
    c = columns
    info, warn, crit = "fb-s-info", "fb-s-warning", "fb-s-critical"
    charts_ = []
    if len(labels) >= 2:
        charts_ = [
            (
                "Database size",
                charts.line_chart(
                    labels, [("size", info, c["size_bytes"])], label=units.human_bytes
                ),
            ),
            (
                "Buffer cache hit ratio",
                charts.line_chart(
                    labels,
                    [("heap", info, c["heap_hit_ratio"]), ("index", warn, c["index_hit_ratio"])],
                    label=_pct,
                ),
            ),
            (
                "Connections (this database)",
                charts.line_chart(
                    labels, [("connections", info, c["connections"])], zero_based=True
                ),
            ),
            (
                "Server connections / usable max_connections",
                charts.line_chart(
                    labels,
                    [("utilisation", info, c["connection_utilisation"])],
                    label=_pct,
                    zero_based=True,
                ),
            ),
            (
                "Redis cache hit rate (per interval)",
                charts.line_chart(labels, [("hit rate", info, c["redis_hit_ratio"])], label=_pct),
            ),
            (
                "Queries per request",
                charts.line_chart(
                    labels,
                    [
                        ("p50", info, c["request_queries_p50"]),
                        ("p95", crit, c["request_queries_p95"]),
                    ],
                    zero_based=True,
                ),
            ),
        ]
    return {
        "trend_range": range_name,
        "trend_ranges": list(RANGES),
        "trend_snapshots": len(rows),
        # An empty chart (e.g. Redis was down at every snapshot): the page says so.
        "trend_charts": charts_,
        "trend_wait_minutes": SNAPSHOT_MINUTES * (2 - len(rows)) if len(rows) < 2 else 0,
    }
