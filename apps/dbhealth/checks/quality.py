"""Data quality: the SQL of each check kind (run in the read-only sandbox) and the report of
the stored results. Table and column names come from the live catalog (`table_columns`) and are
composed with psycopg.sql only."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from psycopg import sql

from apps.core.roles import config as roles_config

from .. import sqlcheck
from ..models import DataQualityCheck, DataQualityResult
from ..runner import (
    DEFAULT_TIMEOUT_MS,
    CatalogError,
    sandbox_fetch,
    sandbox_one,
)
from .base import finding


def _split_table(table: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    return (schema or "public"), name


def table_access(table: str) -> str:
    """Why the read-only role may not read `table` ('' if it may, or if the table is missing):
    a check never runs with more rights than that role's."""
    schema, name = _split_table(table)
    if roles_config.is_sensitive(name):
        return f"{table} is a sensitive table: data-quality checks may not read it"
    row = sandbox_one(
        """
        SELECT has_table_privilege(current_user, c.oid, 'SELECT') AS readable, current_user AS role
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s LIMIT 1
        """,
        [schema, name],
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )
    if row is None or row["readable"]:
        return ""
    return (
        f"permission denied: the read-only role {row['role']} may not read {table} "
        "(checks run with that role's rights only)"
    )


def table_columns(table: str) -> dict[str, str] | None:
    """Columns (name → formatted type) of an existing table/view, or None if it does not exist."""
    schema, name = _split_table(table)
    rows = sandbox_fetch(
        """
        SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, c.relkind AS kind
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY a.attnum LIMIT 2000
        """,
        [schema, name],
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )
    if not rows:
        return None
    return {r["name"]: r["type"] for r in rows if r["name"] is not None}


def primary_key_columns(table: str) -> list[str]:
    schema, name = _split_table(table)
    rows = sandbox_fetch(
        """
        SELECT a.attname AS name
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE n.nspname = %s AND c.relname = %s AND i.indisprimary
        ORDER BY k.ord LIMIT 32
        """,
        [schema, name],
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )
    return [r["name"] for r in rows]


def _ident(table: str) -> sql.Identifier:
    return sql.Identifier(*_split_table(table))


_TEXT_TYPES = re.compile(r"^(text|character varying|character|citext)")


def dq_missing(
    table: str, column: str, col_type: str, key: list[str], *, sample: int, timeout_ms: int
):
    col = sql.Identifier(column)
    cond = sql.SQL("{c} IS NULL").format(c=col)
    if _TEXT_TYPES.match(col_type):
        cond = sql.SQL("({c} IS NULL OR btrim({c}) = '')").format(c=col)
    return _failing_with_total(table, cond, [*key, column], sample=sample, timeout_ms=timeout_ms)


def dq_validity(
    table: str, column: str, params: dict, key: list[str], *, sample: int, timeout_ms: int
):
    col = sql.Identifier(column)
    parts: list[sql.Composable] = []
    if params.get("regex"):
        parts.append(sql.SQL("{c}::text !~ {v}").format(c=col, v=sql.Literal(str(params["regex"]))))
    if params.get("min") is not None:
        parts.append(sql.SQL("{c} < {v}").format(c=col, v=sql.Literal(params["min"])))
    if params.get("max") is not None:
        parts.append(sql.SQL("{c} > {v}").format(c=col, v=sql.Literal(params["max"])))
    if params.get("allowed") is not None:
        allowed = [str(v) for v in params["allowed"]]
        parts.append(sql.SQL("NOT ({c}::text = ANY({v}))").format(c=col, v=sql.Literal(allowed)))
    if not parts:
        raise CatalogError("validity check needs params regex, min, max or allowed")
    cond = sql.SQL("{c} IS NOT NULL AND ({p})").format(c=col, p=sql.SQL(" OR ").join(parts))
    return _failing_with_total(table, cond, [*key, column], sample=sample, timeout_ms=timeout_ms)


def dq_referential(
    table: str,
    column: str,
    ref_table: str,
    ref_column: str,
    key: list[str],
    *,
    sample: int,
    timeout_ms: int,
):
    cond = sql.SQL(
        "{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {rt} r WHERE r.{rc} = t.{c})"
    ).format(c=sql.Identifier(column), rt=_ident(ref_table), rc=sql.Identifier(ref_column))
    return _failing_with_total(table, cond, [*key, column], sample=sample, timeout_ms=timeout_ms)


def _failing_with_total(
    table: str, cond: sql.Composable, columns: list[str], *, sample: int, timeout_ms: int
):
    cols = sql.SQL(", ").join(
        sql.SQL("t.{}").format(sql.Identifier(c)) for c in dict.fromkeys(columns)
    )
    counts = sandbox_one(
        sql.SQL(
            "SELECT count(*)::bigint AS total, (count(*) FILTER (WHERE {cond}))::bigint AS failed "
            "FROM {t} t LIMIT 1"
        ).format(cond=cond, t=_ident(table)),
        timeout_ms=timeout_ms,
    )
    rows = sandbox_fetch(
        sql.SQL("SELECT {cols} FROM {t} t WHERE {cond} LIMIT {n}").format(
            cols=cols, t=_ident(table), cond=cond, n=sql.Literal(sample)
        ),
        timeout_ms=timeout_ms,
    )
    return int(counts["failed"]), int(counts["total"]), rows


def dq_duplicate(
    table: str, columns: list[str], ignore_case: bool, *, sample: int, timeout_ms: int
):
    exprs = [
        sql.SQL("lower({}::text)").format(sql.Identifier(c)) if ignore_case else sql.Identifier(c)
        for c in columns
    ]
    named = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(e, sql.Identifier(c))
        for e, c in zip(exprs, columns, strict=True)
    )
    keys = sql.SQL(", ").join(exprs)
    not_null = sql.SQL(" AND ").join(
        sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in columns
    )
    groups = sql.SQL(
        "SELECT {named}, count(*)::bigint AS count FROM {t} WHERE {nn} GROUP BY {keys} HAVING count(*) > 1"
    ).format(named=named, t=_ident(table), nn=not_null, keys=keys)
    counts = sandbox_one(
        sql.SQL(
            "SELECT (SELECT count(*) FROM {t})::bigint AS total, coalesce(sum(g.count), 0)::bigint AS failed FROM ({g}) g LIMIT 1"
        ).format(t=_ident(table), g=groups),
        timeout_ms=timeout_ms,
    )
    rows = sandbox_fetch(
        sql.SQL("SELECT * FROM ({g}) g ORDER BY g.count DESC LIMIT {n}").format(
            g=groups, n=sql.Literal(sample)
        ),
        timeout_ms=timeout_ms,
    )
    return int(counts["failed"]), int(counts["total"]), rows


def dq_freshness(table: str, column: str, *, timeout_ms: int) -> dict[str, Any]:
    return (
        sandbox_one(
            sql.SQL(
                "SELECT max({c}) AS latest, "
                "extract(epoch FROM now() - max({c}))::float8 AS age_seconds FROM {t} LIMIT 1"
            ).format(c=sql.Identifier(column), t=_ident(table)),
            timeout_ms=timeout_ms,
        )
        or {}
    )


def dq_row_count(table: str, *, timeout_ms: int) -> int:
    row = sandbox_one(
        sql.SQL("SELECT count(*)::bigint AS n FROM {t} LIMIT 1").format(t=_ident(table)),
        timeout_ms=timeout_ms,
    )
    return int(row["n"]) if row else 0


def dq_custom_sql(query: str, *, sample: int, timeout_ms: int):
    """A user's SELECT (parsed: one plain SELECT/WITH/VALUES), wrapped as a subquery, in the
    sandbox: the read-only role, a READ ONLY transaction, timeouts, a fixed search_path."""
    try:
        body = sqlcheck.validate_select(query)
    except sqlcheck.UnsafeSQL as exc:
        raise CatalogError(str(exc)) from None
    counts = sandbox_one(
        f"SELECT count(*)::bigint AS failed FROM (\n{body}\n) q LIMIT 1", timeout_ms=timeout_ms
    )
    rows = sandbox_fetch(f"SELECT * FROM (\n{body}\n) q LIMIT {int(sample)}", timeout_ms=timeout_ms)
    return int(counts["failed"]), rows


def report(history: int = 30) -> dict[str, Any]:
    checks = list(DataQualityCheck.objects.order_by("name"))
    results: dict[int, list[DataQualityResult]] = defaultdict(list)
    # Each check's last `history` results in one query (a window per check), newest first.
    recent = (
        DataQualityResult.objects.filter(check_ref__in=checks)
        .annotate(
            recency=Window(
                RowNumber(), partition_by=[F("check_ref_id")], order_by=F("ran_at").desc()
            )
        )
        .filter(recency__lte=history)
        .order_by("check_ref_id", "-ran_at")
    )
    for result in recent:
        results[result.check_ref_id].append(result)
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
                finding(
                    "quality.error" if last.error else "quality.failed",
                    check.target_table or check.name,
                    (
                        f"Data-quality check {check.name} could not run: {last.error}"
                        if last.error
                        else f"Data-quality check {check.name}: {last.failed_count:,} failing rows"
                    ),
                    key=f"quality.failed:{check.name}",
                    severity=check.severity,
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
