"""The stable document behind `manage.py dbhealth --json` (schema: docs/dbhealth-json.md).

Projection only: fields are picked explicitly so internal additions to the selector dicts never
change the documented shape. Bump SCHEMA_VERSION on any breaking change.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from . import conf, selectors, services

SCHEMA_VERSION = 1

_INDEX_FIELDS = (
    "schema", "table", "name", "method", "size_bytes", "idx_scan", "idx_tup_read", "is_unique",
    "is_primary", "is_valid", "partitions", "flags", "definition",
)  # fmt: skip
_TABLE_FIELDS = (
    "schema", "name", "kind", "partitions", "heap_bytes", "index_bytes", "toast_bytes",
    "live_tuples", "dead_tuples", "dead_ratio", "mod_since_analyze", "seq_scan", "idx_scan",
    "last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze",
)  # fmt: skip
_PARTITIONED_FIELDS = (
    "schema", "name", "strategy", "partitions", "ahead", "runway_until", "default_partition",
    "default_rows",
)  # fmt: skip
_QUERY_FIELDS = (
    "queryid",
    "username",
    "query",
    "calls",
    "rows",
    "total_ms",
    "mean_ms",
    "max_ms",
    "share",
)
_BACKEND_FIELDS = (
    "pid", "username", "application_name", "backend_type", "state", "wait_event_type",
    "wait_event", "xact_seconds", "query_seconds", "state_seconds", "query", "blocked_by",
)  # fmt: skip
_MATVIEW_FIELDS = (
    "schema", "name", "populated", "size_bytes", "registered", "last_refresh_at", "last_success_at",
    "last_outcome", "last_error", "age_seconds", "staleness_limit_seconds", "stale",
)  # fmt: skip
_CHECK_FIELDS = (
    "name", "kind", "target_table", "target_column", "severity", "threshold", "enabled",
    "last_ran_at", "last_passed", "last_failed_count", "last_total", "last_error",
    "last_failing_rows",
)  # fmt: skip
_SUGGESTION_FIELDS = (
    "table", "columns", "cost_before", "cost_after", "saving", "ddl", "total_ms", "queries",
)  # fmt: skip
_DRIFT_FIELDS = ("kind", "object", "severity", "title", "detail", "fix")


_OVERVIEW_FIELDS = (
    "database", "server_version", "size_bytes", "heap_hit_ratio", "index_hit_ratio",
    "stats_reset", "connections", "connections_total", "max_connections",
    "longest_transaction_seconds", "oldest_xid_age", "oldest_backend_xmin_age",
    "connection_pool", "psycopg_pools", "redis_cache", "request_queries",
)  # fmt: skip


def _pick(row: dict, fields: tuple[str, ...]) -> dict:
    return {f: row.get(f) for f in fields}


def _project(name: str, r: dict) -> dict[str, Any]:
    if name == "overview":
        return {k: r.get(k) for k in _OVERVIEW_FIELDS}
    if name == "indexes":
        return {
            "observed_since": r["observed_since"],
            "unused_verdicts_from": r["unused_verdicts_from"],
            "unused_min_days": r["unused_min_days"],
            "unused_min_bytes": r["unused_min_bytes"],
            "unused_bytes": r["unused_bytes"],
            "indexes": [
                {**_pick(ix, _INDEX_FIELDS), "covered_by": ix.get("covered_by")}
                for ix in r["indexes"]
            ],
            "unindexed_foreign_keys": [
                {
                    "schema": fk["schema"],
                    "table": fk["table"],
                    "name": fk["name"],
                    "columns": fk["columns"],
                    "references": f"{fk['ref_schema']}.{fk['ref_table']}",
                    "fix": fk["fix"],
                }
                for fk in r["unindexed_foreign_keys"]
            ],
        }
    if name == "tables":
        return {
            "tables": [_pick(t, _TABLE_FIELDS) for t in r["tables"]],
            "partitioned": [_pick(p, _PARTITIONED_FIELDS) for p in r["partitioned"]],
        }
    if name == "queries":
        return {
            "available": r["extension"]["available"],
            "extension": r["extension"],
            "error": r["error"],
            "order": r["order"],
            "queries": [_pick(q, _QUERY_FIELDS) for q in r["queries"]],
        }
    if name == "activity":
        return {
            "blocked_count": r["blocked_count"],
            "longest_transaction_seconds": r["longest_transaction_seconds"],
            "backends": [_pick(b, _BACKEND_FIELDS) for b in r["backends"]],
            "blocking_chains": [
                {"depth": c["depth"], "pid": c["pid"], "state": c["state"], "query": c["query"]}
                for c in r["blocking_chains"]
            ],
        }
    if name == "matviews":
        return {"notes": r["notes"], "matviews": [_pick(v, _MATVIEW_FIELDS) for v in r["matviews"]]}
    if name == "quality":
        return {"checks": [_pick(c, _CHECK_FIELDS) for c in r["checks"]]}
    if name == "suggested_indexes":
        return {
            "available": r["available"],
            "message": r["message"],
            "suggestions": [_pick(x, _SUGGESTION_FIELDS) for x in r["suggestions"]],
        }
    if name == "drift":
        return {
            "clean": r["clean"],
            "counts": r["counts"],
            "drift": [_pick(i, _DRIFT_FIELDS) for i in r["drift"]],
        }
    raise KeyError(name)


def _findings_section() -> dict[str, Any]:
    items = selectors.finding_list(include_closed=False)
    return {
        "counts": selectors.findings_open_counts(),
        "items": [
            {
                "key": f.key,
                "kind": f.kind,
                "severity": f.severity,
                "status": f.status,
                "object": f.object_name,
                "title": f.title,
                "evidence": f.evidence,
                "suggested_fix": f.suggested_fix,
                "first_seen": f.first_seen,
                "last_seen": f.last_seen,
                "snoozed_until": f.snoozed_until,
                "reopened_count": f.reopened_count,
                "accepted_at": f.accepted_at,
                "accepted_reason": f.accepted_reason,
            }
            for f in items
        ],
    }


def document(sections: list[str]) -> dict[str, Any]:
    """Collect (fresh, no cache), sync findings, and project the asked sections."""
    collect = [s for s in sections if s != "findings"]
    if "findings" in sections:
        collect = list(services.KINDS_BY_SECTION)
    fresh = services.findings_refresh(sections=collect)
    out: dict[str, Any] = {}
    for name in sections:
        if name == "findings":
            out[name] = _findings_section()
        elif name in fresh:
            out[name] = _project(name, fresh[name])
        else:
            out[name] = {"error": "section failed; see the server log"}
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": timezone.now(),
        "critical_open": selectors.critical_open_count(),
        "sections": out,
    }


def text(doc: dict[str, Any]) -> str:
    lines = [f"dbhealth @ {doc['generated_at']:%Y-%m-%d %H:%M:%S %Z}"]
    s = doc["sections"]
    if "overview" in s and "error" not in s["overview"]:
        o = s["overview"]
        lines.append(
            f"[overview] {o['database']} {o['size_bytes'] or 0:,} bytes; heap hit {_pct(o['heap_hit_ratio'])}, "
            f"index hit {_pct(o['index_hit_ratio'])}; {o['connections_total']} connections; "
            f"longest tx {o['longest_transaction_seconds']:.1f} s; XID age {o['oldest_xid_age']:,}"
        )
    if "indexes" in s and "error" not in s["indexes"]:
        ix = s["indexes"]["indexes"]
        flagged = [i for i in ix if i["flags"]]
        lines.append(
            f"[indexes] {len(ix)} indexes, {len(flagged)} flagged, unused {s['indexes']['unused_bytes']:,} bytes"
            f"; observing since {s['indexes']['observed_since'] or 'unknown'}, "
            f"unused verdicts from {s['indexes']['unused_verdicts_from'] or 'unknown'}"
        )
        lines += [
            f"  {','.join(i['flags']):18} {i['schema']}.{i['name']} ({i['size_bytes']:,} B)"
            for i in flagged[:50]
        ]
        lines += [
            f"  fk-unindexed       {fk['schema']}.{fk['table']}.{fk['name']} ({', '.join(fk['columns'])})"
            for fk in s["indexes"]["unindexed_foreign_keys"][:50]
        ]
    if "tables" in s and "error" not in s["tables"]:
        t = s["tables"]
        worst = sorted(
            (r for r in t["tables"] if r["dead_tuples"] >= conf.get("DEAD_TUPLES_MIN")),
            key=lambda r: -r["dead_ratio"],
        )[:10]
        lines.append(
            f"[tables] {len(t['tables'])} tables/roots, {len(t['partitioned'])} partitioned"
        )
        lines += [
            f"  dead {_pct(r['dead_ratio']):>8} {r['schema']}.{r['name']} ({r['dead_tuples']:,} dead)"
            for r in worst
            if r["dead_tuples"]
        ]
        lines += [
            f"  partitioned {p['schema']}.{p['name']}: {p['partitions']} partitions, {p['ahead']} ahead, {p['default_rows']} rows in default"
            for p in t["partitioned"]
        ]
    if "queries" in s and "error" not in s["queries"]:
        q = s["queries"]
        if not q["available"]:
            lines.append(
                "[queries] pg_stat_statements is MISSING (installed/preloaded: "
                f"{q['extension']['installed']}/{q['extension']['preloaded']})"
            )
        else:
            lines.append(f"[queries] top {len(q['queries'])} by total time")
            lines += [
                f"  {r['total_ms']:12.1f} ms {_pct(r['share']):>8} {r['calls']:>9} calls  {' '.join(r['query'].split())[:90]}"
                for r in q["queries"][:10]
            ]
    if "activity" in s and "error" not in s["activity"]:
        a = s["activity"]
        lines.append(
            f"[activity] {len(a['backends'])} backends, {a['blocked_count']} blocked, longest tx {a['longest_transaction_seconds']:.1f} s"
        )
        lines += [
            f"  {'  ' * c['depth']}{'blocker' if not c['depth'] else 'blocked'} {c['pid']} {c['state']}"
            for c in a["blocking_chains"]
        ]
    if "suggested_indexes" in s and "error" not in s["suggested_indexes"]:
        x = s["suggested_indexes"]
        if not x["available"]:
            lines.append(f"[suggested indexes] {x['message']}")
        else:
            lines.append(f"[suggested indexes] {len(x['suggestions'])} (HypoPG-checked)")
            lines += [
                f"  cost {i['cost_before']:.0f} -> {i['cost_after']:.0f}  {i['ddl']}"
                for i in x["suggestions"][:20]
            ]
    if "drift" in s and "error" not in s["drift"]:
        d = s["drift"]["drift"]
        lines.append(
            f"[drift] {len(d)} difference(s) between the models/migrations and the database"
        )
        lines += [f"  {i['kind']:26} {i['object']}: {i['title']}" for i in d[:50]]
    if "matviews" in s and "error" not in s["matviews"]:
        m = s["matviews"]
        lines.append(
            f"[matviews] {len(m['matviews'])} views, {sum(1 for v in m['matviews'] if v['stale'])} stale"
        )
        lines += [f"  note: {n}" for n in m["notes"]]
    if "quality" in s and "error" not in s["quality"]:
        c = s["quality"]["checks"]
        lines.append(
            f"[quality] {len(c)} checks, {sum(1 for x in c if x['last_passed'] is False)} failing"
        )
        lines += [
            f"  {'ERROR' if x['last_error'] else 'FAIL':5} {x['name']}: {x['last_error'] or x['last_failed_count']}"
            for x in c
            if x["last_passed"] is False
        ]
    if "findings" in s:
        f = s["findings"]
        lines.append(
            f"[findings] open: {f['counts']['critical']} critical, {f['counts']['warning']} warning, {f['counts']['info']} info"
        )
        lines += [f"  {i['severity']:8} {i['title']}" for i in f["items"][:100]]
    return "\n".join(lines)


def _pct(v) -> str:
    return "-" if v is None else f"{float(v) * 100:.1f}%"
