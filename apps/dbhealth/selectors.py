"""Reads of the Database section: catalog rows → reports and finding candidates (no writes).

Every `*_report()` returns a plain, JSON-friendly dict (the pages, `manage.py dbhealth --json`
and the metrics collector all read the same dicts). `cached()` keeps one in Redis for a short TTL.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import catalog, conf, querytext
from .models import (
    SEVERITY_RANK,
    DataQualityCheck,
    DataQualityResult,
    Finding,
    FindingStatus,
    IndexUsageSnapshot,
    Severity,
)

logger = logging.getLogger(__name__)


def _cache_prefix() -> str:
    """`dbhealth:v1:<database>:`: two databases sharing one Redis never mix their reports."""
    from django.db import connection

    return f"dbhealth:v1:{connection.settings_dict['NAME']}:"


def cache_key(name: str) -> str:
    return _cache_prefix() + name


@dataclass
class FindingCandidate:
    key: str
    kind: str
    severity: str
    object_name: str
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)
    suggested_fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cached(
    name: str, builder: Callable[[], dict], *, refresh: bool = False, ttl: int | None = None
):
    """A report from Redis, or built now (and stored) when missing or `refresh` is asked."""
    key = _cache_prefix() + name
    if not refresh:
        hit = cache.get(key)
        if hit is not None:
            return hit
    report = builder()
    report.setdefault("computed_at", timezone.now())
    cache.set(key, report, ttl if ttl is not None else conf.get("PAGE_CACHE_SECONDS"))
    return report


def cache_put(name: str, report: dict) -> None:
    report.setdefault("computed_at", timezone.now())
    cache.set(_cache_prefix() + name, report, conf.get("PAGE_CACHE_SECONDS"))


def cache_clear() -> None:
    names = ["overview", "indexes", "tables", "activity", "matviews", "metrics", "metrics-lock"]
    names += ["findings-synced"] + [f"queries:{o}" for o in ("total", "mean", "calls")]
    cache.delete_many([cache_key(n) for n in names])


def _qualified(schema: str, name: str) -> str:
    return name if schema == "public" else f"{schema}.{name}"


def _quote(schema: str, name: str) -> str:
    def q(part: str) -> str:
        return (
            part
            if re.fullmatch(r"[a-z_][a-z0-9_$]*", part)
            else '"' + part.replace('"', '""') + '"'
        )

    return f"{q(schema)}.{q(name)}"


# --- indexes ---------------------------------------------------------------------------------


def _key_columns(ix: dict) -> list[tuple]:
    n = ix["nkeyatts"]
    return list(
        zip(
            ix["keys"][:n],
            ix["opclasses"][:n],
            ix["collations"][:n],
            ix["options"][:n],
            strict=True,
        )
    )


def _include_columns(ix: dict) -> set[int]:
    return set(ix["keys"][ix["nkeyatts"] :])


def _removable(ix: dict) -> bool:
    """Unique, primary-key, constraint-backing and replica-identity indexes are never dropped."""
    return not (
        ix["is_unique"] or ix["is_primary"] or ix["constraint_name"] or ix["is_replica_identity"]
    )


def _covered_by(x: dict, y: dict) -> bool:
    """Is index x redundant given index y (same table)? Unique/PK/constraint x never is."""
    if x["oid"] == y["oid"] or not _removable(x) or not x["is_valid"] or not y["is_valid"]:
        return False
    if x["locked"] or y["locked"]:  # no definition read: no verdict this time
        return False
    if (x["method"], x["predicate"], x["expressions"]) != (
        y["method"],
        y["predicate"],
        y["expressions"],
    ):
        return False
    xk, yk = _key_columns(x), _key_columns(y)
    if x["method"] == "btree":
        if len(xk) > len(yk) or yk[: len(xk)] != xk:
            return False
        if not _include_columns(x) <= set(y["keys"]):
            return False
    elif xk != yk or _include_columns(x) != _include_columns(y):
        return False
    identical = xk == yk and _include_columns(x) == _include_columns(y)
    if identical and _removable(y):
        return x["name"] > y["name"]  # report only one of an identical pair
    return True


def _supports_fk(ix: dict, fk_keys: list[list[int]]) -> bool:
    if ix["predicate"] is not None:
        return False
    keys = ix["keys"][: ix["nkeyatts"]]
    return any(len(keys) >= len(fk) and set(keys[: len(fk)]) == set(fk) for fk in fk_keys)


_DJANGO_NAME = re.compile(r".+_[0-9a-f]{8}$|.+_(idx|like|uniq)$")


def _django_note(ix: dict) -> str:
    """Indexes Django created belong to a model: remove them there, or migrations diverge."""
    if _DJANGO_NAME.match(ix["name"]) and ix["schema"] == "public":
        return (
            "Django-managed name: drop it through the model (db_index=False or Meta.indexes) "
            "and a migration using RemoveIndexConcurrently / SeparateDatabaseAndState"
        )
    return ""


def _drop_sql(ix: dict) -> str:
    target = _quote(ix["schema"], ix["name"])
    if ix["index_kind"] == "I":
        return f"DROP INDEX {target};  -- partitioned index: CONCURRENTLY is not supported, drop per partition first"
    return f"DROP INDEX CONCURRENTLY {target};"


def _fk_index_sql(fk: dict, is_partitioned: bool) -> str:
    cols = ", ".join(fk["columns"])
    name = f"{fk['table']}_{'_'.join(fk['columns'])}_fk_idx"[:63]
    table = _quote(fk["schema"], fk["table"])
    if is_partitioned:
        return (
            f"CREATE INDEX {name} ON ONLY {table} ({cols});  -- then CREATE INDEX CONCURRENTLY on each "
            f"partition and ALTER INDEX {name} ATTACH PARTITION ..."
        )
    return f"CREATE INDEX CONCURRENTLY {name} ON {table} ({cols});"


def _recently_used_indexes() -> set[tuple[str, str]]:
    """Indexes with scans recorded by any retained snapshot (usage from before a stats reset)."""
    since = timezone.now() - timedelta(days=conf.get("SNAPSHOT_KEEP_DAYS"))
    return set(
        IndexUsageSnapshot.objects.filter(taken_at__gte=since, delta_scans__gt=0)
        .values_list("schema_name", "index_name")
        .distinct()
    )


def index_report() -> dict[str, Any]:
    overview = catalog.database_overview()
    indexes = catalog.indexes()
    fks = catalog.foreign_keys()
    used_before = _recently_used_indexes()
    min_bytes = conf.get("UNUSED_INDEX_MIN_BYTES")
    by_table: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for ix in indexes:
        by_table[(ix["schema"], ix["table"])].append(ix)
    fk_keys: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    for fk in fks:
        fk_keys[(fk["schema"], fk["table"])].append(list(fk["keys"]))

    findings: list[FindingCandidate] = []
    window = {"stats_reset": overview.get("stats_reset")}
    for ix in indexes:
        ix["flags"] = ["locked"] if ix["locked"] else []
        ix["qualified_name"] = _qualified(ix["schema"], ix["name"])
        ix["qualified_table"] = _qualified(ix["schema"], ix["table"])
        obj = f"{ix['schema']}.{ix['name']}"
        if not ix["is_valid"] and not ix["being_built"] and not ix["locked"]:
            ix["flags"].append("invalid")
            create = (
                ix["definition"]
                .replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)
                .replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1)
            )
            findings.append(
                FindingCandidate(
                    key=f"index.invalid:{obj}",
                    kind="index.invalid",
                    severity=Severity.WARNING,
                    object_name=obj,
                    title=f"Invalid index {ix['qualified_name']} (a failed CREATE INDEX CONCURRENTLY?)",
                    evidence={"table": ix["qualified_table"], "definition": ix["definition"]},
                    suggested_fix=f"{_drop_sql(ix)}\n{create};",
                )
            )
        for other in by_table[(ix["schema"], ix["table"])]:
            if _covered_by(ix, other):
                ix["flags"].append("duplicate")
                ix["covered_by"] = other["name"]
                exact = _key_columns(ix) == _key_columns(other)
                findings.append(
                    FindingCandidate(
                        key=f"index.duplicate:{obj}",
                        kind="index.duplicate",
                        severity=Severity.WARNING,
                        object_name=obj,
                        title=(
                            f"Index {ix['qualified_name']} is {'a duplicate of' if exact else 'covered by'} "
                            f"{_qualified(other['schema'], other['name'])}"
                        ),
                        evidence={
                            "table": ix["qualified_table"],
                            "definition": ix["definition"],
                            "covered_by": other["definition"],
                            "size_bytes": ix["size_bytes"],
                            "django": _django_note(ix),
                        },
                        suggested_fix=_drop_sql(ix),
                    )
                )
                break
        if (
            _removable(ix)
            and ix["is_valid"]
            and not ix["locked"]
            and ix["idx_scan"] == 0
            and ix["size_bytes"] >= min_bytes
            and not _supports_fk(ix, fk_keys[(ix["schema"], ix["table"])])
            and (ix["schema"], ix["name"]) not in used_before
        ):
            ix["flags"].append("unused")
            big = ix["size_bytes"] >= conf.get("UNUSED_INDEX_WARNING_BYTES")
            findings.append(
                FindingCandidate(
                    key=f"index.unused:{obj}",
                    kind="index.unused",
                    severity=Severity.WARNING if big else Severity.INFO,
                    object_name=obj,
                    title=f"Unused index {ix['qualified_name']} ({_size(ix['size_bytes'])}, 0 scans)",
                    evidence={
                        "table": ix["qualified_table"],
                        "definition": ix["definition"],
                        "size_bytes": ix["size_bytes"],
                        "idx_scan": ix["idx_scan"],
                        "observed_since": window["stats_reset"],
                        "why_it_might_be_wrong": "statistics are per server: a replica may use it",
                        "django": _django_note(ix),
                    },
                    suggested_fix=_drop_sql(ix),
                )
            )

    partitioned = {(ix["schema"], ix["table"]) for ix in indexes if ix["table_kind"] == "p"}
    partitioned |= {(fk["schema"], fk["table"]) for fk in fks if fk["table_kind"] == "p"}
    unindexed_fks = []
    for fk in fks:
        if any(i["locked"] for i in by_table[(fk["schema"], fk["table"])]):
            continue  # index definitions unread this time
        table_ix = [i for i in by_table[(fk["schema"], fk["table"])] if i["is_valid"]]
        if any(_supports_fk(i, [list(fk["keys"])]) for i in table_ix):
            continue
        obj = f"{fk['schema']}.{fk['table']}.{fk['name']}"
        fix = _fk_index_sql(fk, (fk["schema"], fk["table"]) in partitioned)
        unindexed_fks.append(
            {**fk, "qualified_table": _qualified(fk["schema"], fk["table"]), "fix": fix}
        )
        findings.append(
            FindingCandidate(
                key=f"fk.unindexed:{obj}",
                kind="fk.unindexed",
                severity=Severity.WARNING,
                object_name=obj,
                title=(
                    f"Foreign key {fk['name']} on {_qualified(fk['schema'], fk['table'])}"
                    f"({', '.join(fk['columns'])}) has no supporting index"
                ),
                evidence={
                    "columns": fk["columns"],
                    "references": _qualified(fk["ref_schema"], fk["ref_table"]),
                    "referenced_rows": fk["ref_rows"],
                    "why": "deletes/updates on the referenced table scan this table; joins lack an index",
                },
                suggested_fix=fix,
            )
        )
    for ix in indexes:
        for k in ("keys", "opclasses", "collations", "options"):
            ix[k] = list(ix[k] or [])
    return {
        "indexes": indexes,
        "unindexed_foreign_keys": unindexed_fks,
        "observed_since": window["stats_reset"],
        "unused_min_bytes": min_bytes,
        "unused_bytes": sum(ix["size_bytes"] for ix in indexes if "unused" in ix["flags"]),
        "findings": [f.as_dict() for f in findings],
    }


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


# --- tables and partitions -----------------------------------------------------------------


def _dead_ratio(row: dict) -> float:
    total = row["live_tuples"] + row["dead_tuples"]
    return row["dead_tuples"] / total if total else 0.0


_RANGE_BOUND = re.compile(r"FOR VALUES FROM \((.+?)\) TO \((.+?)\)$")


def _bound_literal(text: str) -> str | None:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    return None


def partition_health() -> list[dict[str, Any]]:
    """Per partitioned table: partitions, partitions ahead of now, runway, rows in default."""
    rows = catalog.partition_bounds()
    parents: dict[int, dict] = {}
    literals: list[str] = []
    slots: list[tuple[dict, str]] = []
    for r in rows:
        p = parents.setdefault(
            r["parent_oid"],
            {
                "oid": r["parent_oid"],
                "schema": r["parent_schema"],
                "name": r["parent"],
                "qualified_name": _qualified(r["parent_schema"], r["parent"]),
                "strategy": {"r": "range", "l": "list", "h": "hash"}.get(
                    r["strategy"], r["strategy"]
                ),
                "partitions": 0,
                "ahead": None,
                "runway_until": None,
                "default_partition": None,
                "default_rows": 0,
                "_ranges": [],
            },
        )
        p["partitions"] += 1
        bound = r["bound"] or ""
        if bound == "DEFAULT":
            p["default_partition"] = _qualified(r["schema"], r["name"])
            try:
                p["default_rows"] = catalog.default_partition_rows(
                    r["schema"], r["name"], conf.get("DEFAULT_PARTITION_ROWS_CAP")
                )
            except DatabaseError:  # locked (lock_timeout) or slow: estimate instead
                p["default_rows"] = int(r["live_tuples"] or 0)
                p["default_rows_estimated"] = True
            continue
        m = _RANGE_BOUND.match(bound)
        if m and r["strategy"] == "r":
            lo, hi = _bound_literal(m.group(1)), _bound_literal(m.group(2))
            if lo is not None and hi is not None:
                rng = [None, None]
                p["_ranges"].append(rng)
                slots.append((rng, "lo"))
                literals.append(lo)
                slots.append((rng, "hi"))
                literals.append(hi)
    for (rng, which), ts in zip(slots, catalog.bound_cast_timestamptz(literals), strict=True):
        rng[0 if which == "lo" else 1] = ts
    now = timezone.now()
    for p in parents.values():
        ranges = [r for r in p.pop("_ranges") if r[0] is not None and r[1] is not None]
        if ranges:
            p["ahead"] = sum(1 for lo, _ in ranges if lo > now)
            p["runway_until"] = max(hi for _, hi in ranges)
            p["runway_hours"] = round((p["runway_until"] - now).total_seconds() / 3600, 1)
    return sorted(parents.values(), key=lambda p: (p["schema"], p["name"]))


def table_report() -> dict[str, Any]:
    tables = catalog.tables()
    parts = partition_health()
    part_by_oid = {p["oid"]: p for p in parts}
    findings: list[FindingCandidate] = []
    for t in tables:
        t["qualified_name"] = _qualified(t["schema"], t["name"])
        t["total_bytes"] = t["heap_bytes"] + t["index_bytes"] + t["toast_bytes"]
        t["dead_ratio"] = round(_dead_ratio(t), 4)
        scans = t["seq_scan"] + t["idx_scan"]
        t["seq_scan_share"] = round(t["seq_scan"] / scans, 4) if scans else None
        t["partition_health"] = part_by_oid.get(t["oid"])
        obj = f"{t['schema']}.{t['name']}"
        if t["dead_tuples"] >= conf.get("DEAD_TUPLES_MIN") and t["dead_ratio"] >= conf.get(
            "DEAD_RATIO_WARNING"
        ):
            critical = t["dead_ratio"] >= conf.get("DEAD_RATIO_CRITICAL")
            findings.append(
                FindingCandidate(
                    key=f"table.dead_tuples:{obj}",
                    kind="table.dead_tuples",
                    severity=Severity.CRITICAL if critical else Severity.WARNING,
                    object_name=obj,
                    title=f"{t['qualified_name']}: {t['dead_ratio']:.0%} dead tuples ({t['dead_tuples']:,})",
                    evidence={
                        "dead_tuples": t["dead_tuples"],
                        "live_tuples": t["live_tuples"],
                        "last_autovacuum": t["last_autovacuum"],
                        "last_vacuum": t["last_vacuum"],
                        "why": "autovacuum is not keeping up (or is blocked by a long transaction)",
                    },
                    suggested_fix=f"VACUUM (ANALYZE, VERBOSE) {_quote(t['schema'], t['name'])};",
                )
            )
    for p in parts:
        obj = f"{p['schema']}.{p['name']}"
        if p["default_rows"]:
            findings.append(
                FindingCandidate(
                    key=f"partition.default_rows:{obj}",
                    kind="partition.default_rows",
                    severity=Severity.WARNING,
                    object_name=obj,
                    title=f"{p['default_rows']:,} rows sit in the default partition of {p['qualified_name']}",
                    evidence={
                        "default_partition": p["default_partition"],
                        "rows": p["default_rows"],
                    },
                    suggested_fix=(
                        "-- create the missing partitions (rows in the default block creating them):\n"
                        "-- move rows out in batches, then: python manage.py pgpartition --yes --skip-delete"
                    ),
                )
            )
        if p["ahead"] is not None and p["ahead"] < conf.get("PARTITIONS_AHEAD_MIN"):
            findings.append(
                FindingCandidate(
                    key=f"partition.no_runway:{obj}",
                    kind="partition.no_runway",
                    severity=Severity.CRITICAL,
                    object_name=obj,
                    title=f"{p['qualified_name']} has {p['ahead']} partitions ahead of now",
                    evidence={"runway_until": p["runway_until"], "partitions": p["partitions"]},
                    suggested_fix="python manage.py pgpartition --yes --skip-delete",
                )
            )
    return {"tables": tables, "partitioned": parts, "findings": [f.as_dict() for f in findings]}


def table_partitions(root_oid: int, *, page: int = 1, per_page: int = 200) -> list[dict[str, Any]]:
    rows = catalog.partitions(root_oid, limit=per_page, offset=(page - 1) * per_page)
    for r in rows:
        r["qualified_name"] = _qualified(r["schema"], r["name"])
        r["total_bytes"] = r["heap_bytes"] + r["index_bytes"] + r["toast_bytes"]
        r["dead_ratio"] = round(_dead_ratio(r), 4)
    return rows


# --- overview, settings --------------------------------------------------------------------


def settings_findings(status: dict | None = None) -> list[FindingCandidate]:
    status = status or catalog.pg_stat_statements_status()
    if status["available"]:
        return []
    missing = []
    if not status["preloaded"]:
        missing.append("add pg_stat_statements to shared_preload_libraries and restart")
    if not status["installed"]:
        missing.append("CREATE EXTENSION pg_stat_statements;")
    return [
        FindingCandidate(
            key="settings.pg_stat_statements_missing",
            kind="settings",
            severity=Severity.WARNING,
            object_name="pg_stat_statements",
            title="pg_stat_statements is not available: the Slow queries page is empty",
            evidence=status,
            suggested_fix="\n".join(missing),
        )
    ]


def findings_last_checked():
    return Finding.objects.order_by("-last_seen").values_list("last_seen", flat=True).first()


def findings_open_counts() -> dict[str, int]:
    counts = {s: 0 for s in Severity.values}
    for row in (
        Finding.objects.filter(status=FindingStatus.OPEN).values("severity").annotate(n=Count("id"))
    ):
        counts[row["severity"]] = row["n"]
    return counts


def overview_report() -> dict[str, Any]:
    db = catalog.database_overview()
    tx = catalog.transaction_extremes()
    states = catalog.connection_states()
    xid_age = db.get("datfrozenxid_age") or 0
    findings = []
    if xid_age >= conf.get("XID_AGE_WARNING"):
        findings.append(
            FindingCandidate(
                key="database.xid_age",
                kind="database.xid_age",
                severity=Severity.CRITICAL
                if xid_age >= conf.get("XID_AGE_CRITICAL")
                else Severity.WARNING,
                object_name=db.get("database", ""),
                title=f"Transaction ID age {xid_age:,} is approaching wraparound",
                evidence={"datfrozenxid_age": xid_age},
                suggested_fix="VACUUM (FREEZE, VERBOSE);  -- table by table, oldest relfrozenxid first",
            )
        )
    return {
        "database": db.get("database"),
        "server_version": db.get("server_version"),
        "size_bytes": db.get("size_bytes"),
        "heap_hit_ratio": db.get("heap_hit_ratio"),
        "index_hit_ratio": db.get("index_hit_ratio"),
        "stats_reset": db.get("stats_reset"),
        "connections": states,
        "connections_total": sum(s["count"] for s in states),
        "max_connections": db.get("max_connections"),
        "longest_transaction_seconds": tx.get("longest_xact_seconds") or 0.0,
        "longest_transaction_pid": tx.get("longest_xact_pid"),
        "oldest_xid_age": xid_age,
        "oldest_backend_xmin_age": tx.get("oldest_xmin_age"),
        "freeze_max_age": db.get("freeze_max_age"),
        "pg_stat_statements": catalog.pg_stat_statements_status(),
        "findings": [f.as_dict() for f in findings],
    }


# --- queries ---------------------------------------------------------------------------------


def query_report(order: str = "total", limit: int = 50) -> dict[str, Any]:
    status = catalog.pg_stat_statements_status()
    rows: list[dict] = []
    error = ""
    if status["available"]:
        try:
            rows = catalog.slow_queries(order, limit)
            for r in rows:  # utility statements are kept verbatim (ALTER ROLE … PASSWORD …)
                r["query"] = querytext.mask_literals(r.get("query"))
        except Exception as exc:  # e.g. not preloaded in this server
            error = str(exc).splitlines()[0]
            status["available"] = False
    for r in rows:
        r["queryid"] = str(r["queryid"]) if r["queryid"] is not None else None
    return {
        "extension": status,
        "order": order if order in ("total", "mean", "calls") else "total",
        "error": error,
        "queries": rows,
        "findings": [f.as_dict() for f in settings_findings(status)],
    }


# --- activity --------------------------------------------------------------------------------


def activity_report() -> dict[str, Any]:
    rows = catalog.activity()
    for r in rows:
        r["query"] = querytext.mask_literals(r.get("query"))
    long_s = conf.get("LONG_TRANSACTION_SECONDS")
    idle_s = conf.get("IDLE_IN_TRANSACTION_SECONDS")
    by_pid = {r["pid"]: r for r in rows}
    blockers: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        r["blocked_by"] = list(r["blocked_by"] or [])
        for b in r["blocked_by"]:
            blockers[b].append(r["pid"])
        r["long"] = (r["xact_seconds"] or 0) >= long_s
        r["idle_in_transaction"] = (r["state"] or "").startswith("idle in transaction") and (
            r["state_seconds"] or 0
        ) >= idle_s
    chains: list[dict] = []

    def walk(pid: int, depth: int, seen: set[int]) -> None:
        r = by_pid.get(pid, {"pid": pid, "state": "?", "query": "(other database)"})
        chains.append(
            {
                "depth": depth,
                "pid": pid,
                "state": r.get("state"),
                "query": r.get("query"),
                "xact_seconds": r.get("xact_seconds"),
                "wait_event": r.get("wait_event"),
            }
        )
        for child in sorted(blockers.get(pid, [])):
            if child not in seen:
                walk(child, depth + 1, seen | {child})

    roots = [pid for pid in blockers if not by_pid.get(pid, {}).get("blocked_by")]
    for root in sorted(roots):
        walk(root, 0, {root})
    findings = [
        FindingCandidate(
            key=f"activity.blocking:{pid}",
            kind="activity.blocking",
            severity=Severity.WARNING,
            object_name=f"pid {pid}",
            title=f"Backend {pid} blocks {len(blockers[pid])} other backend(s)",
            evidence={
                "blocked": sorted(blockers[pid]),
                "state": by_pid.get(pid, {}).get("state"),
                "query": by_pid.get(pid, {}).get("query"),
            },
            suggested_fix=f"SELECT pg_cancel_backend({pid});  -- or pg_terminate_backend({pid})",
        )
        for pid in sorted(roots)
    ]
    return {
        "backends": rows,
        "active": [r for r in rows if r["state"] == "active"],
        "blocking_chains": chains,
        "blocked_count": sum(1 for r in rows if r["blocked_by"]),
        "long_transactions": [r for r in rows if r["long"]],
        "idle_in_transaction": [r for r in rows if r["idle_in_transaction"]],
        "longest_transaction_seconds": max((r["xact_seconds"] or 0 for r in rows), default=0.0),
        "findings": [f.as_dict() for f in findings],
    }


# --- materialized views (apps.ops is optional) --------------------------------------------


def _ops_registry() -> tuple[dict[str, Any], str]:
    try:
        from apps.ops import matviews as ops_matviews
    except ImportError:
        return {}, "apps.ops.matviews is not available yet: staleness limits use the default."
    registry = getattr(ops_matviews, "REGISTRY", {}) or {}
    specs = registry.values() if isinstance(registry, dict) else registry
    return {getattr(s, "name", str(s)): s for s in specs}, ""


def _refresh_log(names: list[str]) -> tuple[dict[str, dict], str]:
    """Last attempt and last success per view from apps.ops.models.MatviewRefresh."""
    try:
        from apps.ops.models import MatviewRefresh
    except ImportError:
        return {}, "apps.ops.models.MatviewRefresh is not available yet: no refresh history."
    out: dict[str, dict] = {}
    try:
        # A savepoint: a table not migrated yet must not break the caller's transaction.
        with transaction.atomic():
            qs = MatviewRefresh.objects.filter(view_name__in=names)
            for r in qs.order_by("view_name", "-started_at").distinct("view_name"):
                out.setdefault(r.view_name, {})["last"] = r
            ok = qs.filter(outcome__in=["success", "ok", "succeeded"], finished_at__isnull=False)
            for r in ok.order_by("view_name", "-finished_at").distinct("view_name"):
                out.setdefault(r.view_name, {})["success"] = r
    except Exception as exc:  # table not migrated yet
        logger.warning("matview refresh log unreadable: %s", exc)
        return {}, f"refresh log unreadable: {str(exc).splitlines()[0]}"
    return out, ""


def _seconds(limit: Any) -> float | None:
    if limit is None:
        return None
    if isinstance(limit, timedelta):
        return limit.total_seconds()
    return float(limit)


def matview_report() -> dict[str, Any]:
    views = catalog.matviews()
    registry, registry_note = _ops_registry()
    names: set[str] = set(registry)
    for v in views:
        names |= {v["name"], f"{v['schema']}.{v['name']}"}
    log, log_note = _refresh_log(sorted(names))
    now = timezone.now()
    default_limit = conf.get("MATVIEW_DEFAULT_STALENESS_SECONDS")
    findings: list[FindingCandidate] = []
    seen = set()
    for v in views:
        qn = _qualified(v["schema"], v["name"])
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
        )
        v["age_seconds"] = (
            (now - v["last_success_at"]).total_seconds() if v["last_success_at"] else None
        )
        known = bool(entry) or spec is not None
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
                FindingCandidate(
                    key=f"matview.stale:{obj}",
                    kind="matview.stale",
                    severity=Severity.CRITICAL if critical else Severity.WARNING,
                    object_name=obj,
                    title=f"Materialized view {qn} is stale ({'not populated' if not v['populated'] else age})",
                    evidence={
                        "age_seconds": v["age_seconds"],
                        "staleness_limit_seconds": limit,
                        "last_outcome": v["last_outcome"],
                        "last_error": v["last_error"],
                    },
                    suggested_fix=(
                        f"REFRESH MATERIALIZED VIEW {'CONCURRENTLY ' if v['can_refresh_concurrently'] and v['populated'] else ''}"
                        f"{_quote(v['schema'], v['name'])};  -- or 'Refresh now' in the admin"
                    ),
                )
            )
    for name, spec in registry.items():
        if name not in seen and getattr(spec, "name", name) not in seen:
            findings.append(
                FindingCandidate(
                    key=f"matview.missing:{name}",
                    kind="matview.missing",
                    severity=Severity.WARNING,
                    object_name=name,
                    title=f"Registered materialized view {name} does not exist in the database",
                    evidence={},
                )
            )
    return {
        "matviews": views,
        "notes": [n for n in (registry_note, log_note) if n],
        "registry": sorted(registry),
        "findings": [f.as_dict() for f in findings],
    }


# --- data quality ----------------------------------------------------------------------------


def quality_report(history: int = 30) -> dict[str, Any]:
    checks = list(DataQualityCheck.objects.order_by("name"))
    results: dict[int, list[DataQualityResult]] = defaultdict(list)
    # One bounded query per check keeps each history short; there are tens of checks, not thousands.
    for check in checks:
        results[check.pk] = list(check.results.order_by("-ran_at")[:history])
    rows = []
    findings = []
    for check in checks:
        hist = results[check.pk]
        last = hist[0] if hist else None
        rows.append(
            {
                "id": check.pk,
                "name": check.name,
                "kind": check.kind,
                "target_table": check.target_table,
                "target_column": check.target_column,
                "severity": check.severity,
                "threshold": check.threshold,
                "enabled": check.enabled,
                "last_ran_at": last.ran_at if last else None,
                "last_passed": last.passed if last else None,
                "last_failed_count": last.failed_count if last else None,
                "last_total": last.total if last else None,
                "last_error": last.error if last else "",
                "last_failing_rows": last.failing_rows if last else [],
                "history": [
                    {
                        "ran_at": r.ran_at,
                        "failed_count": r.failed_count,
                        "passed": r.passed,
                        "error": r.error,
                    }
                    for r in reversed(hist)
                ],
            }
        )
        if check.enabled and last is not None and not last.passed:
            findings.append(
                FindingCandidate(
                    key=f"quality.failed:{check.name}",
                    kind="quality.error" if last.error else "quality.failed",
                    severity=check.severity,
                    object_name=check.target_table or check.name,
                    title=(
                        f"Data-quality check {check.name} could not run: {last.error}"
                        if last.error
                        else f"Data-quality check {check.name}: {last.failed_count:,} failing rows"
                    ),
                    evidence={
                        "failed_count": last.failed_count,
                        "total": last.total,
                        "threshold": check.threshold,
                        "ran_at": last.ran_at,
                        # The rows themselves only on the check's page (view_failing_rows).
                        "sample_rows": len(last.failing_rows),
                    },
                )
            )
    return {"checks": rows, "findings": [f.as_dict() for f in findings]}


# --- findings --------------------------------------------------------------------------------


def finding_list(*, include_closed: bool = False, limit: int = 500) -> list[Finding]:
    now = timezone.now()
    qs = Finding.objects.select_related("resolved_by")
    if not include_closed:
        qs = qs.filter(
            Q(status=FindingStatus.OPEN) | Q(status=FindingStatus.SNOOZED, snoozed_until__lte=now)
        )
    items = list(qs.order_by("-last_seen")[:limit])
    items.sort(
        key=lambda f: (
            f.status != FindingStatus.OPEN,
            -SEVERITY_RANK.get(f.severity, 0),
            f.kind,
            f.key,
        )
    )
    return items


def critical_open_count() -> int:
    return Finding.objects.filter(status=FindingStatus.OPEN, severity=Severity.CRITICAL).count()


def _size(n: int | None) -> str:
    n = float(n or 0)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def heartbeat_age_seconds() -> float | None:
    """Seconds since apps.ops.models.Heartbeat(name=beat) was written; None if unknown."""
    try:
        from apps.ops.models import Heartbeat
    except ImportError:
        return None
    try:
        with transaction.atomic():
            beat = (
                Heartbeat.objects.filter(name=conf.get("HEARTBEAT_NAME"))
                .values_list("beat_at", flat=True)
                .first()
            )
    except Exception:
        return None
    if beat is None:
        return None
    return max((timezone.now() - beat).total_seconds(), 0.0)


def all_reports() -> dict[str, dict]:
    return {
        "overview": overview_report(),
        "indexes": index_report(),
        "tables": table_report(),
        "queries": query_report(),
        "activity": activity_report(),
        "matviews": matview_report(),
        "quality": quality_report(),
    }


def datetime_or_none(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
