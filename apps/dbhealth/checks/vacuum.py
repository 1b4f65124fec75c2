"""Vacuum and wraparound: per-table XID/MXID age against the (effective) freeze max ages,
the database's MXID age, tables with autovacuum switched off, and unlogged tables."""

from __future__ import annotations

from collections.abc import Iterable

from .. import conf
from ..runner import USER_SCHEMAS, fetch, ident, qualified
from .base import FindingCandidate, Severity, check, finding

# A TOAST table's age counts for its owner (VACUUM of the table freezes both).
TABLE_AGES_SQL = f"""
SELECT n.nspname AS schema, c.relname AS table,
       greatest(age(c.relfrozenxid), coalesce(age(tc.relfrozenxid), 0))::bigint AS xid_age,
       greatest(mxid_age(c.relminmxid), coalesce(mxid_age(tc.relminmxid), 0))::bigint AS mxid_age,
       least(coalesce((SELECT option_value::bigint FROM pg_options_to_table(c.reloptions)
                        WHERE option_name = 'autovacuum_freeze_max_age'),
                      current_setting('autovacuum_freeze_max_age')::bigint),
             current_setting('autovacuum_freeze_max_age')::bigint) AS freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint AS multixact_freeze_max_age
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
WHERE c.relkind IN ('r', 'm') AND {USER_SCHEMAS}
ORDER BY xid_age DESC LIMIT %s
"""

RELOPTIONS_SQL = f"""
SELECT n.nspname AS schema, c.relname AS table, c.relkind AS kind, c.relpersistence AS persistence,
       c.relispartition AS is_partition,
       EXISTS (SELECT 1 FROM pg_options_to_table(c.reloptions)
                WHERE option_name = 'autovacuum_enabled' AND option_value IN ('false', 'off', '0', 'no'))
         AS autovacuum_off,
       EXISTS (SELECT 1 FROM pg_options_to_table(tc.reloptions)
                WHERE option_name = 'autovacuum_enabled' AND option_value IN ('false', 'off', '0', 'no'))
         AS toast_autovacuum_off,
       pg_stat_get_live_tuples(c.oid) AS live_tuples
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
WHERE c.relkind IN ('r', 'm', 'p') AND {USER_SCHEMAS}
  AND (c.relpersistence = 'u' OR c.reloptions IS NOT NULL OR tc.reloptions IS NOT NULL)
ORDER BY 1, 2 LIMIT %s
"""


def _severity(age: int, limit: int) -> str:
    return (
        Severity.CRITICAL
        if age >= max(conf.get("XID_AGE_CRITICAL"), 2 * limit)
        else Severity.WARNING
    )


@check("tables", "table.xid_age", "table.mxid_age")
def table_wraparound_age(report: dict) -> Iterable[FindingCandidate]:
    for r in fetch(TABLE_AGES_SQL, [5_000], timeout_ms=10_000):
        table = f"{r['schema']}.{r['table']}"
        xid_limit = conf.get("TABLE_XID_AGE_WARNING") or r["freeze_max_age"]
        mxid_limit = conf.get("TABLE_MXID_AGE_WARNING") or r["multixact_freeze_max_age"]
        fix = f"VACUUM (FREEZE, VERBOSE) {ident(r['schema'], r['table'])};  -- SHARE UPDATE EXCLUSIVE: reads and writes go on"
        for kind, age, limit, what in (
            ("table.xid_age", r["xid_age"], xid_limit, "transaction ID"),
            ("table.mxid_age", r["mxid_age"], mxid_limit, "multixact ID"),
        ):
            if age >= limit:
                yield finding(
                    kind,
                    table,
                    f"{qualified(r['schema'], r['table'])}: {what} age {age:,} is past {limit:,} "
                    "(autovacuum's anti-wraparound vacuum is overdue or failing)",
                    severity=_severity(age, limit),
                    evidence={"age": age, "limit": limit, "freeze_max_age": r["freeze_max_age"],
                              "multixact_freeze_max_age": r["multixact_freeze_max_age"]},
                    fix=fix,
                )  # fmt: skip


@check("overview", "database.mxid_age")
def database_mxid_age(report: dict) -> Iterable[FindingCandidate]:
    age = report.get("oldest_mxid_age") or 0
    if age >= conf.get("XID_AGE_WARNING"):
        yield finding(
            "database.mxid_age",
            report.get("database") or "",
            f"Multixact ID age {age:,} is approaching wraparound",
            key="database.mxid_age",
            severity=Severity.CRITICAL if age >= conf.get("XID_AGE_CRITICAL") else Severity.WARNING,
            evidence={"datminmxid_age": age, "limit": conf.get("XID_AGE_WARNING"),
                      "multixact_freeze_max_age": report.get("multixact_freeze_max_age")},
            fix="VACUUM (FREEZE, VERBOSE);  -- table by table, oldest relminmxid first",
        )  # fmt: skip


@check("tables", "table.autovacuum_disabled", "table.unlogged")
def table_storage_options(report: dict) -> Iterable[FindingCandidate]:
    for r in fetch(RELOPTIONS_SQL, [5_000]):
        obj = f"{r['schema']}.{r['table']}"
        table = ident(r["schema"], r["table"])
        if (r["autovacuum_off"] or r["toast_autovacuum_off"]) and r["kind"] != "p":
            resets = []
            if r["autovacuum_off"]:
                resets.append("autovacuum_enabled")
            if r["toast_autovacuum_off"]:
                resets.append("toast.autovacuum_enabled")
            yield finding(
                "table.autovacuum_disabled",
                obj,
                f"Autovacuum is disabled on {qualified(r['schema'], r['table'])}"
                + (" (its TOAST table)" if not r["autovacuum_off"] else ""),
                evidence={
                    "live_tuples": r["live_tuples"],
                    "why": "dead tuples and statistics are left to manual VACUUM/ANALYZE; "
                    "only the anti-wraparound vacuum still runs",
                },
                fix=f"ALTER TABLE {table} RESET ({', '.join(resets)});  -- SHARE UPDATE EXCLUSIVE, instant",
            )
        if r["persistence"] == "u":
            yield finding(
                "table.unlogged",
                obj,
                f"{qualified(r['schema'], r['table'])} is UNLOGGED",
                severity=Severity.INFO,
                evidence={
                    "live_tuples": r["live_tuples"],
                    "why": "emptied after a crash and absent on replicas: fine for scratch data only",
                },
                fix=f"ALTER TABLE {table} SET LOGGED;  -- rewrites the table (and WAL-logs it) under ACCESS EXCLUSIVE",
            )
