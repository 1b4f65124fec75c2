"""Connection pool utilisation: server connections by application and role against
max_connections, and this process's psycopg pool when Django's pool is enabled (OPTIONS pool)."""

from __future__ import annotations

from typing import Any

from django.db import connections

from .. import conf
from ..runner import fetch
from .base import Severity, check, finding

# Client backends of the whole server: max_connections is a server-wide limit.
BY_APPLICATION_SQL = """
WITH limits AS (
    SELECT max(setting::int) FILTER (WHERE name = 'max_connections') AS max_connections,
           max(setting::int) FILTER (WHERE name = 'superuser_reserved_connections') AS reserved
    FROM pg_settings WHERE name IN ('max_connections', 'superuser_reserved_connections')
)
SELECT coalesce(nullif(a.application_name, ''), '(none)') AS application,
       coalesce(a.usename::text, '') AS role,
       a.datname IS NOT DISTINCT FROM current_database() AS this_database,
       count(*)::int AS connections,
       count(*) FILTER (WHERE a.state = 'active')::int AS active,
       count(*) FILTER (WHERE starts_with(a.state, 'idle in transaction'))::int
           AS idle_in_transaction,
       l.max_connections, l.reserved
FROM pg_stat_activity a CROSS JOIN limits l
WHERE a.backend_type = 'client backend'
GROUP BY 1, 2, 3, l.max_connections, l.reserved
ORDER BY 4 DESC, 1, 2
LIMIT 200
"""


def server_connections() -> dict[str, Any]:
    rows = fetch(BY_APPLICATION_SQL)
    max_connections = rows[0]["max_connections"] if rows else None
    reserved = rows[0]["reserved"] if rows else 0
    total = sum(r["connections"] for r in rows)
    usable = (max_connections - (reserved or 0)) if max_connections else None
    groups = [
        {k: r[k] for k in ("application", "role", "this_database", "connections", "active")}
        | {"idle_in_transaction": r["idle_in_transaction"]}
        for r in rows
    ]
    return {
        "by_application": groups,
        "total": total,
        "max_connections": max_connections,
        "reserved": reserved,
        "usable": usable,
        "utilisation": total / usable if usable else None,
    }


def pool_stats() -> list[dict[str, Any]]:
    """This process's psycopg pools (Django's OPTIONS pool), one per alias that enables one.
    Per process: each web worker has its own pool; /metrics of that worker reports it."""
    out = []
    for alias in connections:
        if not connections[alias].settings_dict.get("OPTIONS", {}).get("pool"):
            continue
        pool = connections[alias].pool
        stats = pool.get_stats()
        size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
        out.append(
            {
                "alias": alias,
                "min": stats.get("pool_min", 0),
                "max": stats.get("pool_max", 0),
                "size": size,
                "available": available,
                "in_use": max(size - available, 0),
                "waiting": stats.get("requests_waiting", 0),
                "utilisation": (size - available) / stats["pool_max"]
                if stats.get("pool_max")
                else None,
            }
        )
    return out


@check("overview", "database.connections")
def connections_near_limit(report: dict) -> list:
    pool = report.get("connection_pool") or {}
    ratio = pool.get("utilisation")
    if ratio is None or ratio < conf.get("CONNECTIONS_WARNING_RATIO"):
        return []
    critical = ratio >= conf.get("CONNECTIONS_CRITICAL_RATIO")
    top = pool["by_application"][:3]
    return [
        finding(
            "database.connections",
            "max_connections",
            f"{pool['total']} of {pool['usable']} usable connections in use ({ratio:.0%})",
            severity=Severity.CRITICAL if critical else Severity.WARNING,
            evidence={
                "connections": pool["total"],
                "usable": pool["usable"],
                "top": [f"{g['application']} as {g['role']}: {g['connections']}" for g in top],
            },
            fix="-- put PgBouncer in front of the app's login (docs/scaling.md), or lower the\n"
            "-- pool sizes / worker counts of the largest applications above",
        )
    ]
