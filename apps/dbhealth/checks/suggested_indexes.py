"""Suggested indexes: the slowest SELECTs of pg_stat_statements that seq-scan a table (or filter
rows after an index), tried
against hypothetical indexes (HypoPG) on the columns their WHERE clauses filter by.

No statement is run: each is PREPAREd from its normalized text ($1, $2 …) and EXPLAINed as a
generic plan (`plan_cache_mode = force_generic_plan`, so the NULL arguments never reach the
planner), before and after `hypopg_create_index`. All on one read-only-role connection (the
monitor may read no table, and EXPLAIN checks SELECT rights); hypothetical indexes live in that
session only and are reset, prepared statements deallocated, before it is handed back.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError, connections, transaction
from pglast import parser

from apps.core.roles import config as roles_config

from .. import conf
from ..runner import fetch, fetch_one, ident
from .base import FindingCandidate, Severity, check, finding

logger = logging.getLogger(__name__)

HYPOPG_SQL = "SELECT extversion AS version FROM pg_extension WHERE extname = 'hypopg' LIMIT 1"

# This database's slowest SELECTs (normalized text); the monitor reads pg_stat_statements.
TOP_SELECTS_SQL = """
SELECT s.queryid, s.query, s.calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms
FROM pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.query ~* '^\\s*(/\\*.*?\\*/\\s*)?select\\s'
ORDER BY s.total_exec_time DESC LIMIT %s
"""

_OPERATORS = {"=", "<", ">", "<=", ">=", "~~", "~~*"}


def _column(node: dict, tables: dict[str, str]) -> tuple[str, str] | None:
    """(table, column) of a ColumnRef, when it names one table of the FROM list unambiguously."""
    ref = node.get("ColumnRef")
    if not ref:
        return None
    parts = [f["String"]["sval"] for f in ref["fields"] if "String" in f]
    if len(parts) == 1 and len(set(tables.values())) == 1:
        return next(iter(tables.values())), parts[0]
    if len(parts) == 2 and parts[0] in tables:
        return tables[parts[0]], parts[1]
    return None


def _value(node: dict) -> bool:
    while "TypeCast" in node:
        node = node["TypeCast"]["arg"]
    return "ParamRef" in node or "A_Const" in node


def _walk_where(node: Any, tables: dict[str, str], out: list[tuple[str, str, str]]) -> None:
    """Collect (table, column, 'eq'|'range') of `column <op> value` predicates (AND/OR trees)."""
    if isinstance(node, list):
        for n in node:
            _walk_where(n, tables, out)
        return
    if not isinstance(node, dict):
        return
    if "BoolExpr" in node:
        _walk_where(node["BoolExpr"]["args"], tables, out)
        return
    expr = node.get("A_Expr")
    if expr:
        name = expr.get("name", [{}])[0].get("String", {}).get("sval")
        kind = expr.get("kind")
        lexpr, rexpr = expr.get("lexpr", {}), expr.get("rexpr", {})
        if kind == "AEXPR_IN" or (kind == "AEXPR_OP" and name in _OPERATORS):
            for col_side, val_side in ((lexpr, rexpr), (rexpr, lexpr)):
                col = _column(col_side, tables)
                if col and (_value(val_side) or isinstance(val_side, list)):
                    out.append((*col, "eq" if name == "=" or kind == "AEXPR_IN" else "range"))
        return
    if "NullTest" in node:
        col = _column(node["NullTest"]["arg"], tables)
        if col:
            out.append((*col, "eq"))


def _from_tables(items: list, tables: dict[str, str]) -> None:
    for item in items or []:
        if "RangeVar" in item:
            rv = item["RangeVar"]
            name = f"{rv.get('schemaname', 'public')}.{rv['relname']}"
            tables[rv.get("alias", {}).get("aliasname", rv["relname"])] = name
        elif "JoinExpr" in item:
            _from_tables([item["JoinExpr"]["larg"], item["JoinExpr"]["rarg"]], tables)


def predicates(query: str) -> list[tuple[str, str, str]]:
    """The filtered columns of a single SELECT's WHERE clause; [] for anything else."""
    try:
        stmts = json.loads(parser.parse_sql_json(query))["stmts"]
    except Exception:  # not parseable (truncated text): nothing to suggest
        return []
    if len(stmts) != 1 or "SelectStmt" not in stmts[0]["stmt"]:
        return []
    select = stmts[0]["stmt"]["SelectStmt"]
    tables: dict[str, str] = {}
    _from_tables(select.get("fromClause"), tables)
    out: list[tuple[str, str, str]] = []
    _walk_where(select.get("whereClause"), tables, out)
    return list(dict.fromkeys(out))


def candidates(preds: list[tuple[str, str, str]]) -> dict[str, list[tuple[str, ...]]]:
    """Per table: each column alone, and equality columns first then one range column."""
    by_table: dict[str, list[tuple[str, ...]]] = {}
    for table in dict.fromkeys(t for t, _, _ in preds):
        eq = [c for t, c, k in preds if t == table and k == "eq"]
        rng = [c for t, c, k in preds if t == table and k == "range" and c not in eq]
        options = [(c,) for c in dict.fromkeys(eq + rng)]
        combined = tuple(dict.fromkeys(eq[:2] + rng[:1]))
        if len(combined) > 1:
            options.append(combined)
        by_table[table] = options
    return by_table


def _plan(cursor, n_params: int) -> dict:
    args = ", ".join(["NULL"] * n_params)
    cursor.execute(
        f"EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE dbh_probe{f'({args})' if n_params else ''}"
    )
    return cursor.fetchone()[0][0]["Plan"]


def _scanned_with_filter(plan: dict) -> set[str]:
    """Tables read by a Seq Scan, or by any scan that still filters rows after its index."""
    found = set()
    if "Relation Name" in plan and (plan.get("Node Type") == "Seq Scan" or "Filter" in plan):
        found.add(f"{plan.get('Schema', 'public')}.{plan['Relation Name']}")
    for child in plan.get("Plans", []):
        found |= _scanned_with_filter(child)
    return found


def _savepoint(cursor, sql_text: str, params=None) -> bool:
    cursor.execute("SAVEPOINT dbh_probe")
    try:
        cursor.execute(sql_text, params)
    except DatabaseError:
        cursor.execute("ROLLBACK TO SAVEPOINT dbh_probe")
        return False
    cursor.execute("RELEASE SAVEPOINT dbh_probe")
    return True


def _try_query(cursor, q: dict, min_saving: float) -> list[dict]:
    preds = predicates(q["query"])
    if not preds:
        return []
    cursor.execute("DEALLOCATE ALL")
    if not _savepoint(cursor, f"PREPARE dbh_probe AS {q['query']}"):
        return []  # parameter types PostgreSQL cannot infer, or a relation we may not read
    n_params = max((int(n) for n in re.findall(r"\$(\d+)", q["query"])), default=0)
    before = _plan(cursor, n_params)
    scanned = _scanned_with_filter(before)
    out = []
    for table, options in candidates(preds).items():
        if table not in scanned:
            continue
        best = None
        for columns in options:
            schema, name = table.split(".", 1)
            ddl = f"CREATE INDEX ON {ident(schema, name)} ({', '.join(ident(c) for c in columns)})"
            if not _savepoint(cursor, "SELECT hypopg_create_index(%s)", [ddl]):
                continue  # e.g. a column of another table with the same name
            # A prepared statement keeps its cached plan: prepare again to plan with the index.
            cursor.execute("DEALLOCATE dbh_probe")
            cursor.execute(f"PREPARE dbh_probe AS {q['query']}")
            cost = _plan(cursor, n_params)["Total Cost"]
            cursor.execute("SELECT hypopg_reset()")
            # A wider index only when it is clearly cheaper than the narrower one (it costs writes).
            wider = best is not None and len(columns) > len(best[0])
            if best is None or cost < best[1] * (0.9 if wider else 1):
                best = (columns, cost)
        # Strictly cheaper: a plan that costs nothing either way (one-row tables) gains nothing.
        if best and best[1] < before["Total Cost"] * (1 - min_saving):
            out.append({"table": table, "columns": list(best[0]), "cost_before": before["Total Cost"],
                        "cost_after": best[1], "queryid": q["queryid"], "query": q["query"],
                        "calls": q["calls"], "total_ms": q["total_ms"]})  # fmt: skip
    return out


def suggest(queries: Iterable[dict]) -> list[dict]:
    """Suggestions for `queries` (rows with queryid, query, calls, total_ms), merged per index."""
    using = roles_config.readonly_alias()
    min_saving = conf.get("SUGGESTED_INDEX_MIN_SAVING")
    found: dict[tuple, dict] = {}
    conn = connections[using]
    try:
        with transaction.atomic(using=using), conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(
                "SET LOCAL statement_timeout = %s", [str(conf.get("SUGGESTED_INDEX_TIMEOUT_MS"))]
            )
            for q in queries:
                cursor.execute("SAVEPOINT dbh_query")
                try:
                    tried = _try_query(cursor, q, min_saving)
                except DatabaseError as exc:  # a plan over the timeout: skip that statement
                    logger.info("suggested indexes: query %s skipped: %s", q["queryid"], exc)
                    cursor.execute("ROLLBACK TO SAVEPOINT dbh_query")
                    continue
                cursor.execute("RELEASE SAVEPOINT dbh_query")
                for s in tried:
                    key = (s["table"], tuple(s["columns"]))
                    merged = found.setdefault(key, {**s, "queries": []})
                    merged["queries"].append(
                        {
                            k: s[k]
                            for k in (
                                "queryid",
                                "query",
                                "calls",
                                "total_ms",
                                "cost_before",
                                "cost_after",
                            )
                        }
                    )
            cursor.execute("SELECT hypopg_reset()")
            cursor.execute("DEALLOCATE ALL")
    finally:
        if conn.connection is not None and not conn.needs_rollback:
            with conn.cursor() as cursor:  # session state outlives the transaction
                cursor.execute("DEALLOCATE ALL")
    for s in found.values():
        schema, name = s["table"].split(".", 1)
        cols = ", ".join(ident(c) for c in s["columns"])
        s["saving"] = round(1 - s["cost_after"] / s["cost_before"], 4) if s["cost_before"] else 0
        s["ddl"] = f"CREATE INDEX CONCURRENTLY ON {ident(schema, name)} ({cols});"
    return sorted(found.values(), key=lambda s: -s["total_ms"])  # fmt: skip


def report() -> dict[str, Any]:
    if not fetch_one(HYPOPG_SQL):
        return {"available": False, "suggestions": [], "message": (
            "HypoPG is not installed in this database: no index suggestions (the rest of the "
            "section works). Install Debian's postgresql-15-hypopg and run the bootstrap "
            "(`manage.py db_roles --apply --admin-url …`), which creates the extension.")}  # fmt: skip
    try:
        top = fetch(TOP_SELECTS_SQL, [conf.get("SUGGESTED_INDEX_QUERIES")])
    except DatabaseError as exc:
        return {
            "available": False,
            "suggestions": [],
            "message": f"pg_stat_statements: {exc}".strip(),
        }
    return {"available": True, "suggestions": suggest(top), "message": "",
            "min_saving": conf.get("SUGGESTED_INDEX_MIN_SAVING"), "queries_examined": len(top)}  # fmt: skip


@check("suggested_indexes", "index.suggested")
def suggested_indexes(report: dict) -> Iterable[FindingCandidate]:
    for s in report["suggestions"]:
        yield finding(
            "index.suggested",
            f"{s['table']}({','.join(s['columns'])})",
            f"An index on {s['table']} ({', '.join(s['columns'])}) cuts the planner's cost of "
            f"{len(s['queries'])} slow quer{'y' if len(s['queries']) == 1 else 'ies'} by "
            f"{s['saving']:.0%} (HypoPG)",
            severity=Severity.INFO,
            evidence={"cost_before": s["cost_before"], "cost_after": s["cost_after"],
                      "queries": [q["queryid"] for q in s["queries"]], "total_ms": s["total_ms"]},
            fix=s["ddl"],
        )  # fmt: skip
