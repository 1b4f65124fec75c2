"""Writes of the Database section: findings, snapshots, data-quality runs, backend signals."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_action_record
from apps.core.db import first_line
from apps.core.validation import text_problem
from apps.ops.matviews import REGISTRY as MATVIEW_REGISTRY
from apps.ops.tasks import refresh_matview_task
from apps.origins import window

from . import cache as dbcache
from . import conf, querytext, redaction, sqlcheck
from . import sections as registry
from .checks import activity, connections, redis_cache
from .checks import indexes as index_checks
from .checks import overview as overview_checks
from .checks import quality as dq
from .models import (
    SEVERITY_RANK,
    CheckKind,
    DataQualityCheck,
    DataQualityResult,
    Finding,
    FindingStatus,
    IndexUsageSnapshot,
    OverviewSnapshot,
)
from .runner import CatalogError

logger = logging.getLogger(__name__)

# Which finding kinds each collector owns: a sync only auto-resolves kinds it looked at.
KINDS_BY_SECTION = {s.name: s.kinds for s in registry.SECTIONS if s.reported}


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# --- findings --------------------------------------------------------------------------------


# What a sync may change on an existing finding.
SYNCED_FIELDS = [
    "kind",
    "severity",
    "object_name",
    "title",
    "evidence",
    "suggested_fix",
    "last_seen",
    "status",
    "reopened_count",
    "resolved_at",
    "resolved_by",
    "snoozed_until",
    "note",
]


@transaction.atomic
def findings_sync(
    *,
    candidates: Iterable[dict],
    kind_prefixes: tuple[str, ...],
    skipped_kinds: Iterable[str] = (),
) -> dict[str, int]:
    """Upsert current findings by key; resolve vanished ones; reopen resolved ones that came back.

    Only findings whose kind starts with one of `kind_prefixes` are auto-resolved, so a
    data-quality run never closes an index finding; nor does a check that failed this time
    (`skipped_kinds`) close its own.
    """
    skipped = set(skipped_kinds)
    now = timezone.now()
    current = {c["key"]: c for c in candidates}
    existing = {f.key: f for f in Finding.objects.select_for_update().filter(key__in=list(current))}
    stats = {"created": 0, "updated": 0, "reopened": 0, "resolved": 0}
    new: list[Finding] = []
    changed_rows: list[Finding] = []
    for key, c in current.items():
        fields = {
            "kind": c["kind"],
            "severity": c["severity"],
            "object_name": c["object_name"][:300],
            "title": c["title"][:500],
            "evidence": _jsonable(c.get("evidence") or {}),
            "suggested_fix": c.get("suggested_fix") or "",
            "last_seen": now,
        }
        f = existing.get(key)
        if f is None:
            new.append(Finding(key=key, first_seen=now, status=FindingStatus.OPEN, **fields))
            continue
        for name, value in fields.items():
            setattr(f, name, value)
        if f.status == FindingStatus.RESOLVED:
            f.status = FindingStatus.OPEN
            f.reopened_count += 1
            f.resolved_at = None
            f.resolved_by = None
            stats["reopened"] += 1
        elif f.status == FindingStatus.SNOOZED and f.snoozed_until and f.snoozed_until <= now:
            f.status = FindingStatus.OPEN
            f.snoozed_until = None
        elif f.status == FindingStatus.ACCEPTED:
            changed = material_change(f.accepted_evidence, fields["evidence"])
            if changed or SEVERITY_RANK.get(fields["severity"], 0) > SEVERITY_RANK.get(
                f.accepted_evidence.get("_severity"), 0
            ):
                f.status = FindingStatus.OPEN
                f.reopened_count += 1
                f.note = (f.note + "\n" if f.note else "") + (
                    f"{now:%Y-%m-%d %H:%M} reopened: evidence changed since accepted ({changed or 'severity'})"
                )
                stats["reopened"] += 1
        changed_rows.append(f)
        stats["updated"] += 1
    # One statement for all of them, not one UPDATE per finding.
    Finding.objects.bulk_update(changed_rows, SYNCED_FIELDS, batch_size=500)
    # A concurrent sync may have inserted the same key a moment ago: keep its row (unique key).
    stats["created"] = len(Finding.objects.bulk_create(new, ignore_conflicts=True))
    gone = (
        Finding.objects.select_for_update()
        .filter(status__in=[FindingStatus.OPEN, FindingStatus.SNOOZED, FindingStatus.ACCEPTED])
        .exclude(key__in=list(current))
    )
    resolved: list[Finding] = []
    for f in gone:
        if f.kind not in skipped and any(f.kind.startswith(p) for p in kind_prefixes):
            f.status = FindingStatus.RESOLVED
            f.resolved_at = now
            f.resolved_by = None
            f.snoozed_until = None
            f.note = (
                f.note + "\n" if f.note else ""
            ) + f"{now:%Y-%m-%d %H:%M} auto-resolved: condition cleared"
            resolved.append(f)
            stats["resolved"] += 1
    Finding.objects.bulk_update(resolved, SYNCED_FIELDS, batch_size=500)
    return stats


def findings_refresh(*, sections: Iterable[str] | None = None) -> dict[str, Any]:
    """Collect every section now (no cache), sync findings, and return the fresh reports."""
    wanted = list(sections or KINDS_BY_SECTION)
    reports: dict[str, Any] = {}
    candidates: list[dict] = []
    prefixes: list[str] = []
    skipped: list[str] = []
    for name in wanted:
        try:
            reports[name] = registry.build(name)
        except Exception:
            # A section that fails (timeout, missing permission) must not resolve its findings.
            logger.exception("dbhealth: section %s failed", name)
            continue
        candidates.extend(reports[name].get("findings", []))
        prefixes.extend(KINDS_BY_SECTION[name])
        skipped.extend(c["kind"] for c in reports[name].get("skipped_checks", []))
    if sections is None:  # a full refresh also says whether backups are proven by restores
        from apps.backups.findings import KIND_PREFIX, backup_findings

        candidates.extend(backup_findings())
        prefixes.append(KIND_PREFIX)
    for name, report in reports.items():
        dbcache.cache_put("queries:total" if name == "queries" else name, report)
    reports["sync"] = findings_sync(
        candidates=candidates, kind_prefixes=tuple(prefixes), skipped_kinds=skipped
    )
    return reports


@transaction.atomic
def finding_resolve(*, finding: Finding, user_id: int | None, note: str = "") -> Finding:
    now = timezone.now()
    finding.status = FindingStatus.RESOLVED
    finding.resolved_at = now
    finding.resolved_by_id = user_id
    finding.snoozed_until = None
    if note:
        finding.note = (
            finding.note + "\n" if finding.note else ""
        ) + f"{now:%Y-%m-%d %H:%M} resolved: {note}"
    finding.save()
    return finding


def material_change(baseline: dict, evidence: dict) -> str:
    """The first evidence number that grew ACCEPT_GROWTH_FACTOR times since the baseline ('' if
    none did): a 2x bigger unused index is not the condition someone accepted."""
    factor = conf.get("ACCEPT_GROWTH_FACTOR")
    for name, before in (baseline or {}).items():
        after = (evidence or {}).get(name)
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (before, after)
        )
        if numbers and before > 0 and after >= factor * before:
            return f"{name} {before:,} → {after:,}"
    return ""


# A reason is a sentence or two for the next DBA, not a document.
ACCEPT_REASON_MAX_LENGTH = 500


def accept_reason_problem(reason: str) -> str | None:
    """Why `reason` cannot be an accepted finding's reason, or None."""
    if not reason.strip():
        return "accepting a finding needs a reason"
    if len(reason.strip()) > ACCEPT_REASON_MAX_LENGTH:
        return f"the reason is longer than {ACCEPT_REASON_MAX_LENGTH} characters"
    problem = text_problem(reason)
    return f"the reason {problem}" if problem else None


@transaction.atomic
def finding_accept(
    *, finding: Finding, user_id: int | None, reason: str, request_id: str | None = None
) -> Finding:
    """Keep a known condition out of the open list until its evidence changes materially."""
    problem = accept_reason_problem(reason)
    if problem:
        raise ValueError(problem)
    now = timezone.now()
    previous_status = finding.status
    finding.status = FindingStatus.ACCEPTED
    finding.accepted_reason = reason.strip()
    finding.accepted_at = now
    finding.accepted_evidence = {**(finding.evidence or {}), "_severity": finding.severity}
    finding.resolved_by_id = user_id  # who acted last
    finding.snoozed_until = None
    finding.note = (finding.note + "\n" if finding.note else "") + (
        f"{now:%Y-%m-%d %H:%M} accepted: {reason.strip()}"
    )
    finding.save()
    _audit(
        action_name="dbhealth.finding_accept",
        target="dbhealth_finding",
        target_pk=str(finding.pk),
        details={
            "key": finding.key[:300],
            "reason": finding.accepted_reason,
            "previous_status": previous_status,
            "severity": finding.severity,
        },
        actor_id=user_id,
        request_id=request_id,
    )
    return finding


@transaction.atomic
def finding_snooze(
    *, finding: Finding, user_id: int | None, until: datetime, note: str = ""
) -> Finding:
    now = timezone.now()
    finding.status = FindingStatus.SNOOZED
    finding.snoozed_until = until
    finding.resolved_by_id = user_id  # who acted last
    finding.note = (finding.note + "\n" if finding.note else "") + (
        f"{now:%Y-%m-%d %H:%M} snoozed until {until:%Y-%m-%d %H:%M}" + (f": {note}" if note else "")
    )
    finding.save()
    return finding


# --- index usage snapshots -----------------------------------------------------------------


@transaction.atomic
def index_usage_snapshot_take(*, now: datetime | None = None) -> int:
    """Store current counters of every index with the delta since the previous snapshot.

    A counter lower than the previous one, or a changed `stats_reset`, means statistics were
    reset: the delta is then the new counter itself, so no usage is lost or counted negative.
    """
    now = now or timezone.now()
    reset_at = index_checks.stats_reset_at()
    indexes = index_checks.fetch_indexes()
    previous = {
        (s.schema_name, s.index_name): s
        for s in IndexUsageSnapshot.objects.filter(
            taken_at__gte=now - timedelta(days=conf.get("SNAPSHOT_KEEP_DAYS"))
        )
        .order_by("schema_name", "index_name", "-taken_at")
        .distinct("schema_name", "index_name")
    }
    rows = []
    for ix in indexes:
        prev = previous.get((ix["schema"], ix["name"]))
        scans = int(ix["idx_scan"])
        reset = False
        if prev is None:
            delta = 0
        elif scans < prev.idx_scan or (prev.stats_reset != reset_at and reset_at is not None):
            reset, delta = True, scans
        else:
            delta = scans - prev.idx_scan
        rows.append(
            IndexUsageSnapshot(
                taken_at=now,
                schema_name=ix["schema"],
                table_name=ix["table"],
                index_name=ix["name"],
                idx_scan=scans,
                idx_tup_read=int(ix["idx_tup_read"]),
                size_bytes=int(ix["size_bytes"]),
                stats_reset=reset_at,
                delta_scans=delta,
                reset_detected=reset,
            )
        )
    IndexUsageSnapshot.objects.bulk_create(rows, batch_size=1000)
    IndexUsageSnapshot.objects.filter(
        taken_at__lt=now - timedelta(days=conf.get("SNAPSHOT_KEEP_DAYS"))
    ).delete()
    return len(rows)


@transaction.atomic
def overview_snapshot_take(*, now: datetime | None = None) -> OverviewSnapshot:
    """Record the overview's figures now and drop snapshots older than
    OVERVIEW_SNAPSHOT_KEEP_DAYS. A figure that cannot be read (Redis down) is stored as None."""
    now = now or timezone.now()
    db = overview_checks.database_overview()
    states = overview_checks.connection_states()
    pool = connections.server_connections()
    cache = redis_cache.cache_stats()
    queries = window.summary()
    snapshot = OverviewSnapshot.objects.create(
        taken_at=now,
        size_bytes=db.get("size_bytes"),
        heap_hit_ratio=db.get("heap_hit_ratio"),
        index_hit_ratio=db.get("index_hit_ratio"),
        connections=sum(s["count"] for s in states),
        max_connections=db.get("max_connections"),
        connection_utilisation=pool["utilisation"],
        redis_hits=cache["hits"],
        redis_misses=cache["misses"],
        request_queries_p50=queries["p50"],
        request_queries_p95=queries["p95"],
        request_samples=queries["requests"],
    )
    OverviewSnapshot.objects.filter(
        taken_at__lt=now - timedelta(days=conf.get("OVERVIEW_SNAPSHOT_KEEP_DAYS"))
    ).delete()
    return snapshot


# --- data quality ----------------------------------------------------------------------------


class CheckError(Exception):
    pass


def _require_table(table: str) -> dict[str, str]:
    if not table:
        raise CheckError("no target table")
    refused = dq.table_access(table)
    if refused:
        raise CheckError(refused)
    columns = dq.table_columns(table)
    if columns is None:
        raise CheckError("table missing")
    return columns


def _require_column(columns: dict[str, str], column: str) -> str:
    if column not in columns:
        raise CheckError(f"column missing: {column}")
    return columns[column]


def _evaluate(check: DataQualityCheck) -> tuple[int, int | None, list[dict]]:
    """(failed_count, total, sample rows) for one check; raises CheckError for setup problems."""
    p = check.params or {}
    sample = conf.get("DQ_SAMPLE_ROWS")
    timeout = conf.get("DQ_STATEMENT_TIMEOUT_MS")
    kind = check.kind
    if kind == CheckKind.CUSTOM_SQL:
        query = p.get("sql") or ""
        if not query.strip():
            raise CheckError("params.sql is empty")
        failed, rows = dq.dq_custom_sql(query, sample=sample, timeout_ms=timeout)
        return failed, None, rows
    columns = _require_table(check.target_table)
    key = [c for c in dq.primary_key_columns(check.target_table) if c in columns] or []
    if kind == CheckKind.MISSING:
        col_type = _require_column(columns, check.target_column)
        return dq.dq_missing(
            check.target_table,
            check.target_column,
            col_type,
            key,
            sample=sample,
            timeout_ms=timeout,
        )
    if kind == CheckKind.VALIDITY:
        _require_column(columns, check.target_column)
        try:
            return dq.dq_validity(
                check.target_table, check.target_column, p, key, sample=sample, timeout_ms=timeout
            )
        except CatalogError as exc:
            raise CheckError(str(exc)) from exc
    if kind == CheckKind.DUPLICATE:
        cols = p.get("columns") or [check.target_column]
        for c in cols:
            _require_column(columns, c)
        return dq.dq_duplicate(
            check.target_table, cols, bool(p.get("ignore_case")), sample=sample, timeout_ms=timeout
        )
    if kind == CheckKind.REFERENTIAL:
        _require_column(columns, check.target_column)
        ref_table = p.get("ref_table") or ""
        ref_column = p.get("ref_column") or "id"
        refused = dq.table_access(ref_table) if ref_table else ""
        if refused:
            raise CheckError(refused)
        ref_columns = dq.table_columns(ref_table) if ref_table else None
        if ref_columns is None:
            raise CheckError(f"referenced table missing: {ref_table or '(none)'}")
        _require_column(ref_columns, ref_column)
        return dq.dq_referential(
            check.target_table,
            check.target_column,
            ref_table,
            ref_column,
            key,
            sample=sample,
            timeout_ms=timeout,
        )
    if kind == CheckKind.FRESHNESS:
        _require_column(columns, check.target_column)
        max_age = float(p.get("max_age_seconds") or 24 * 3600)
        row = dq.dq_freshness(check.target_table, check.target_column, timeout_ms=timeout)
        age = row.get("age_seconds")
        stale = age is None or age > max_age
        sample_rows = [
            {"latest": row.get("latest"), "age_seconds": age, "max_age_seconds": max_age}
        ]
        return int(stale), 1, sample_rows if stale else []
    if kind == CheckKind.ROW_COUNT:
        n = dq.dq_row_count(check.target_table, timeout_ms=timeout)
        low, high = p.get("min"), p.get("max")
        bad = (low is not None and n < low) or (high is not None and n > high)
        return int(bad), n, [{"row_count": n, "min": low, "max": high}] if bad else []
    if kind == CheckKind.SCHEMA:
        expected: dict[str, str] = p.get("columns") or {}
        problems = []
        for name, want in expected.items():
            have = columns.get(name)
            if have is None:
                problems.append(
                    {"column": name, "expected": want, "actual": None, "problem": "missing"}
                )
            elif not (have == want or have.startswith(want + "(")):
                problems.append(
                    {"column": name, "expected": want, "actual": have, "problem": "type"}
                )
        return len(problems), len(expected), problems
    raise CheckError(f"unknown kind {kind}")


REQUIRED_PARAMS = {
    CheckKind.VALIDITY: ("regex", "min", "max", "allowed"),  # at least one
    CheckKind.REFERENTIAL: ("ref_table",),
    CheckKind.ROW_COUNT: ("min", "max"),  # at least one
    CheckKind.SCHEMA: ("columns",),
    CheckKind.CUSTOM_SQL: ("sql",),
}
NEEDS_COLUMN = {CheckKind.MISSING, CheckKind.VALIDITY, CheckKind.FRESHNESS, CheckKind.REFERENTIAL}


def dataquality_check_problems(
    *, kind: str, target_table: str, target_column: str, params: dict
) -> list[str]:
    """What is wrong with a check definition (admin form); a missing table is allowed (it
    may be created later) and reported by each run as `table missing`."""
    problems = []
    params = params or {}
    wanted = REQUIRED_PARAMS.get(kind)
    if wanted and not any(params.get(k) not in (None, "", [], {}) for k in wanted):
        problems.append(f"params needs {' or '.join(wanted)}")
    if kind in NEEDS_COLUMN and not target_column:
        problems.append("this kind needs a target column")
    if kind != CheckKind.CUSTOM_SQL and not target_table:
        problems.append("this kind needs a target table")
    if kind == CheckKind.CUSTOM_SQL and params.get("sql"):
        try:
            sqlcheck.validate_select(str(params["sql"]))
        except sqlcheck.UnsafeSQL as exc:
            problems.append(str(exc))
    tables = [target_table] if target_table and kind != CheckKind.CUSTOM_SQL else []
    if kind == CheckKind.REFERENTIAL and params.get("ref_table"):
        tables.append(str(params["ref_table"]))
    refused = [msg for msg in (dq.table_access(t) for t in tables) if msg]
    problems += refused
    if target_table and target_column and kind != CheckKind.CUSTOM_SQL and not refused:
        columns = dq.table_columns(target_table)
        if columns is not None and target_column not in columns:
            problems.append(f"{target_table} has no column {target_column}")
    return problems


def custom_sql_change(*, old: DataQualityCheck | None, kind: str, params: dict) -> bool:
    """Whether saving this definition writes or changes custom SQL (needs
    `dbhealth.author_custom_sql`, distinct from adding or changing a check)."""
    new_sql = str((params or {}).get("sql") or "") if kind == CheckKind.CUSTOM_SQL else ""
    if old is None:
        return kind == CheckKind.CUSTOM_SQL
    was_custom = old.kind == CheckKind.CUSTOM_SQL
    old_sql = str((old.params or {}).get("sql") or "") if was_custom else ""
    return (
        (kind == CheckKind.CUSTOM_SQL) != was_custom
        or new_sql != old_sql
        or (was_custom and (params or {}) != (old.params or {}))
    )


def dataquality_check_run(*, check: DataQualityCheck) -> DataQualityResult:
    started = time.monotonic()
    failed, total, rows, error = 0, None, [], ""
    try:
        failed, total, rows = _evaluate(check)
    except (CheckError, CatalogError) as exc:
        error = str(exc)
    except Exception as exc:  # SQL error, timeout: stored, never raised to the runner
        error = first_line(exc, limit=500)
        logger.warning("data-quality check %s failed to run: %s", check.name, error)
    duration = int((time.monotonic() - started) * 1000)
    return DataQualityResult.objects.create(
        check_ref=check,
        ran_at=timezone.now(),
        failed_count=failed,
        total=total,
        passed=not error and failed <= check.threshold,
        duration_ms=duration,
        # Redacted before it is stored: a sample never holds a secret, whoever may see it.
        failing_rows=redaction.redact_rows(_jsonable(rows[: conf.get("DQ_SAMPLE_ROWS")])),
        error=error,
    )


def dataquality_run(*, names: Iterable[str] | None = None) -> list[DataQualityResult]:
    """Run the enabled checks (or the named ones, enabled or not); sync quality findings."""
    qs = DataQualityCheck.objects.order_by("name")
    qs = qs.filter(name__in=list(names)) if names else qs.filter(enabled=True)
    results = [dataquality_check_run(check=c) for c in qs]
    DataQualityResult.objects.filter(
        ran_at__lt=timezone.now() - timedelta(days=conf.get("DQ_RESULTS_KEEP_DAYS"))
    ).delete()
    findings_refresh(sections=["quality"])
    return results


# --- activity, matviews ------------------------------------------------------------------------


def _audit(*, action_name: str, target: str, target_pk: str, details: dict, actor_id, request_id):
    audit_action_record(
        action_name=action_name,
        target=target,
        target_pk=target_pk,
        details=details,
        actor_id=actor_id,
        request_id=request_id,
    )


def backend_signal(*, pid: int, action: str, actor_id: int | None, request_id: str | None) -> bool:
    if action not in ("cancel", "terminate"):
        raise ValueError(action)
    before = activity.backend(pid)
    ok = activity.backend_signal(pid, action)
    _audit(
        action_name=f"dbhealth.backend_{action}",
        target="pg_stat_activity",
        target_pk=str(pid),
        details={
            "ok": ok,
            "username": (before or {}).get("username"),
            "application_name": (before or {}).get("application_name"),
            "state": (before or {}).get("state"),
            "query": (querytext.mask_literals((before or {}).get("query")) or "")[:500],
        },
        actor_id=actor_id,
        request_id=request_id,
    )
    dbcache.cache_clear()
    return ok


def matview_refresh_enqueue(*, name: str, actor_id: int | None, request_id: str | None) -> str:
    """Enqueue apps.ops' refresh task for a registered view; returns the task id."""
    if name not in MATVIEW_REGISTRY:
        raise LookupError(f"{name} is not in apps.ops.matviews.REGISTRY")
    result = refresh_matview_task.delay(name)
    _audit(
        action_name="dbhealth.matview_refresh",
        target="matview",
        target_pk=name,
        details={"task_id": str(getattr(result, "id", ""))},
        actor_id=actor_id,
        request_id=request_id,
    )
    return str(getattr(result, "id", ""))
