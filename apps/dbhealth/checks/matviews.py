"""Materialized views: populated, size, freshness against the registry's staleness limits."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.ops.matviews import REGISTRY
from apps.ops.models import MatviewRefresh, Outcome

from .. import conf
from ..models import MatviewObservation
from ..runner import LOCKED, USER_SCHEMAS, fetch, ident, qualified
from .base import FindingCandidate, Severity, finding

logger = logging.getLogger(__name__)


def fetch_matviews(limit: int = 1_000) -> list[dict[str, Any]]:
    return fetch(
        f"""
        SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.relispopulated AS populated,
               CASE WHEN c.oid IN {LOCKED} THEN c.relpages::bigint * current_setting('block_size')::bigint
                    ELSE pg_total_relation_size(c.oid) END AS size_bytes,
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                         AND i.indpred IS NULL AND i.indexprs IS NULL) AS can_refresh_concurrently,
               -- A plain REFRESH writes a new file; CONCURRENTLY moves the row counters.
               c.relfilenode::text || ':' || (pg_stat_get_tuples_inserted(c.oid)
                 + pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid))::text
                 AS fingerprint
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'm' AND {USER_SCHEMAS}
        ORDER BY n.nspname, c.relname LIMIT %s
        """,
        [limit],
    )


def _refresh_log(names: list[str]) -> tuple[dict[str, dict], str]:
    """Last attempt and last success per view from the ops refresh log."""
    out: dict[str, dict] = {}
    try:
        # A savepoint: an unreadable log must not break the caller's transaction.
        with transaction.atomic():
            qs = MatviewRefresh.objects.filter(view_name__in=names)
            for r in qs.order_by("view_name", "-started_at").distinct("view_name"):
                out.setdefault(r.view_name, {})["last"] = r
            ok = qs.filter(outcome=Outcome.SUCCESS, finished_at__isnull=False)
            for r in ok.order_by("view_name", "-finished_at").distinct("view_name"):
                out.setdefault(r.view_name, {})["success"] = r
    except DatabaseError as exc:
        logger.warning("matview refresh log unreadable: %s", exc)
        return {}, f"refresh log unreadable: {str(exc).splitlines()[0]}"
    return out, ""


def _seconds(limit: Any) -> float | None:
    if limit is None:
        return None
    if isinstance(limit, timedelta):
        return limit.total_seconds()
    return float(limit)


def _observe(views: list[dict], now) -> dict[str, Any]:
    """Record each view's catalog fingerprint; returns, per view, when it was last seen to
    change (a refresh by anyone, psql included, between two observations)."""
    names = [f"{v['schema']}.{v['name']}" for v in views]
    changed: dict[str, Any] = {}
    try:
        with transaction.atomic():  # a savepoint: an unwritable table never breaks the page
            known = {o.view_name: o for o in MatviewObservation.objects.filter(view_name__in=names)}
            for v, name in zip(views, names, strict=True):
                obs = known.get(name)
                if obs is None:
                    MatviewObservation.objects.create(
                        view_name=name, fingerprint=v["fingerprint"], observed_at=now
                    )
                    continue
                if obs.fingerprint != v["fingerprint"]:
                    obs.fingerprint, obs.changed_at = v["fingerprint"], now
                obs.observed_at = now
                obs.save(update_fields=["fingerprint", "changed_at", "observed_at"])
                changed[name] = obs.changed_at
    except DatabaseError as exc:
        logger.warning("matview observations not recorded: %s", exc)
    return changed


def report() -> dict[str, Any]:
    views = fetch_matviews()
    seen_refreshed = _observe(views, timezone.now())
    registry = REGISTRY
    names: set[str] = set(registry)
    for v in views:
        names |= {v["name"], f"{v['schema']}.{v['name']}"}
    log, log_note = _refresh_log(sorted(names))
    now = timezone.now()
    default_limit = conf.get("MATVIEW_DEFAULT_STALENESS_SECONDS")
    findings: list[FindingCandidate] = []
    seen = set()
    for v in views:
        qn = qualified(v["schema"], v["name"])
        spec = registry.get(qn) or registry.get(v["name"])
        entry = log.get(qn) or log.get(v["name"]) or {}
        seen.add(getattr(spec, "name", None))
        last, success = entry.get("last"), entry.get("success")
        limit = _seconds(getattr(spec, "staleness_limit", None)) or default_limit
        v.update(
            qualified_name=qn,
            registered=spec is not None,
            staleness_limit_seconds=limit,
            last_refresh_at=getattr(last, "started_at", None),
            last_outcome=getattr(last, "outcome", None),
            last_error=getattr(last, "error", "") or "",
            last_duration_ms=getattr(last, "duration_ms", None),
            last_rows=getattr(last, "rows", None),
            last_success_at=getattr(success, "finished_at", None),
            catalog_refresh_seen_at=seen_refreshed.get(obj_name := f"{v['schema']}.{v['name']}"),
        )
        if v["catalog_refresh_seen_at"] and (
            v["last_success_at"] is None or v["catalog_refresh_seen_at"] > v["last_success_at"]
        ):
            v["last_success_at"] = v["catalog_refresh_seen_at"]  # refreshed outside Flowbase
        v["age_seconds"] = (
            (now - v["last_success_at"]).total_seconds() if v["last_success_at"] else None
        )
        known = bool(entry) or spec is not None or seen_refreshed.get(obj_name) is not None
        v["stale"] = (not v["populated"]) or (
            known and (v["age_seconds"] is None or v["age_seconds"] > limit)
        )
        obj = f"{v['schema']}.{v['name']}"
        if v["stale"]:
            critical = not v["populated"] or (v["age_seconds"] or 0) > 2 * limit
            age = (
                "never refreshed"
                if v["age_seconds"] is None
                else f"{v['age_seconds'] / 3600:.1f} h old"
            )
            findings.append(
                finding(
                    "matview.stale",
                    obj,
                    f"Materialized view {qn} is stale ({'not populated' if not v['populated'] else age})",
                    severity=Severity.CRITICAL if critical else Severity.WARNING,
                    evidence={
                        "age_seconds": v["age_seconds"],
                        "staleness_limit_seconds": limit,
                        "last_outcome": v["last_outcome"],
                        "last_error": v["last_error"],
                    },
                    fix=(
                        f"REFRESH MATERIALIZED VIEW {'CONCURRENTLY ' if v['can_refresh_concurrently'] and v['populated'] else ''}"
                        f"{ident(v['schema'], v['name'])};  -- or 'Refresh now' in the admin"
                    ),
                )
            )
    for name, spec in registry.items():
        if name not in seen and getattr(spec, "name", name) not in seen:
            findings.append(
                finding(
                    "matview.missing",
                    name,
                    f"Registered materialized view {name} does not exist in the database",
                )
            )
    return {
        "matviews": views,
        "notes": [log_note] if log_note else [],
        "registry": sorted(registry),
        "findings": [f.as_dict() for f in findings],
    }
