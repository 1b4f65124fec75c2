"""Index usage over time: hourly snapshots of the counters (they survive statistics resets)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from .. import conf
from ..models import IndexUsageSnapshot


def index_history(limit_indexes: int = 500) -> list[dict[str, Any]]:
    """Per index: the last N snapshot deltas (for sparklines) and total scans over the window."""
    points = conf.get("SPARKLINE_POINTS")
    since = timezone.now() - timedelta(hours=points)
    rows = (
        IndexUsageSnapshot.objects.filter(taken_at__gte=since)
        .order_by("schema_name", "index_name", "taken_at")
        .values(
            "schema_name",
            "table_name",
            "index_name",
            "taken_at",
            "delta_scans",
            "reset_detected",
            "size_bytes",
        )
    )
    series: dict[tuple[str, str], dict] = {}
    for r in rows[: limit_indexes * points]:
        k = (r["schema_name"], r["index_name"])
        s = series.setdefault(
            k,
            {
                "schema": r["schema_name"],
                "table": r["table_name"],
                "index": r["index_name"],
                "points": [],
                "resets": 0,
                "size_bytes": 0,
            },
        )
        s["points"].append(r["delta_scans"])
        s["resets"] += int(r["reset_detected"])
        s["size_bytes"] = r["size_bytes"]
        s["last_taken_at"] = r["taken_at"]
    out = list(series.values())
    for s in out:
        s["total"] = sum(s["points"])
        s["sparkline"] = sparkline_points(s["points"])
    out.sort(key=lambda s: (s["total"], -s["size_bytes"]))
    return out


def sparkline_points(values: list[int], width: int = 120, height: int = 24) -> str:
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - (v / top) * (height - 2) - 1:.1f}" for i, v in enumerate(values)
    )
