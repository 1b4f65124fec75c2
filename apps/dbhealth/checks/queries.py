"""Slow queries from pg_stat_statements (read only: never resets the statistics)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from apps.origins.comment import origin_label, parse_comment

from .. import querytext
from ..runner import fetch, fetch_one

STATUS_SQL = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
       coalesce(current_setting('shared_preload_libraries', true), '') AS preload
LIMIT 1
"""

ORDERS = {
    "total": "total_exec_time DESC",
    "mean": "mean_exec_time DESC",
    "calls": "calls DESC",
}

SLOW_QUERIES_SQL = """
WITH s AS (
    SELECT queryid, userid, left(query, 2000) AS query, right(query, 600) AS query_tail, calls, rows,
           total_exec_time, mean_exec_time, max_exec_time,
           shared_blks_hit, shared_blks_read,
           total_exec_time / NULLIF(sum(total_exec_time) OVER (), 0) AS share
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      {origin_filter}
)
SELECT s.queryid, r.rolname AS username, s.query, s.query_tail, s.calls, s.rows,
       s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms, s.max_exec_time AS max_ms,
       s.shared_blks_hit, s.shared_blks_read, coalesce(s.share, 0) AS share
FROM s LEFT JOIN pg_roles r ON r.oid = s.userid
ORDER BY {order_by} LIMIT %s
"""


def pg_stat_statements_status() -> dict[str, Any]:
    row = fetch_one(STATUS_SQL)
    installed = bool(row and row["installed"])
    preloaded = bool(row and "pg_stat_statements" in row["preload"])
    return {"installed": installed, "preloaded": preloaded, "available": installed and preloaded}


def slow_queries(order: str = "total", limit: int = 50, origin: str = "") -> list[dict[str, Any]]:
    """Top statements of this database; with `origin`, only those whose sqlcommenter tags
    contain it (matched on the URL-encoded text the tags are stored in)."""
    order_by = ORDERS.get(order, ORDERS["total"])
    if not origin:
        return fetch(SLOW_QUERIES_SQL.format(order_by=order_by, origin_filter=""), [limit])
    needle = (
        quote(origin.strip(), safe="").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    )
    sql = SLOW_QUERIES_SQL.format(
        order_by=order_by,
        origin_filter="AND right(query, 600) ~ '/\\*[a-z_]+=' AND right(query, 600) ILIKE %s",
    )
    return fetch(sql, [f"%{needle}%", limit])


def add_origin(row: dict) -> None:
    """The statement's sqlcommenter tags (the first caller's, for pg_stat_statements), read from
    its tail before the text is cut or masked."""
    tags = parse_comment(row.pop("query_tail", None))
    row["origin_tags"] = tags
    row["origin"] = origin_label(tags)


def filter_by_origin(rows: list[dict], origin: str) -> list[dict]:
    needle = origin.strip().lower()
    if not needle:
        return rows
    return [r for r in rows if needle in (r.get("origin") or "").lower()]


def report(order: str = "total", limit: int = 50, origin: str = "") -> dict[str, Any]:
    from . import settings  # settings findings read this module's status

    status = pg_stat_statements_status()
    rows: list[dict] = []
    error = ""
    if status["available"]:
        try:
            rows = slow_queries(order, limit, origin)
            for r in rows:
                add_origin(r)
            for r in rows:  # utility statements are kept verbatim (ALTER ROLE … PASSWORD …)
                r["query"] = querytext.mask_literals(r.get("query"))
        except Exception as exc:  # e.g. not preloaded in this server
            error = str(exc).splitlines()[0]
            status["available"] = False
    for r in rows:
        r["queryid"] = str(r["queryid"]) if r["queryid"] is not None else None
    return {
        "extension": status,
        "order": order if order in ORDERS else "total",
        "error": error,
        "origin": origin,
        "queries": rows,
        "findings": [f.as_dict() for f in settings.extension_findings(status)],
    }
