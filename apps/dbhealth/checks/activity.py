"""Activity and locks: backends, blocking chains, long and idle-in-transaction sessions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from .. import conf, querytext
from ..runner import fetch, fetch_one, own_backend_pids
from .base import Severity, finding
from .queries import add_origin


def fetch_activity(limit: int = 500) -> list[dict[str, Any]]:
    return fetch(
        """
        SELECT pid, usename AS username, application_name, client_addr::text AS client_addr,
               backend_type, state, wait_event_type, wait_event,
               backend_start, xact_start, query_start, state_change,
               extract(epoch FROM now() - xact_start)::float8 AS xact_seconds,
               extract(epoch FROM now() - query_start)::float8 AS query_seconds,
               extract(epoch FROM now() - state_change)::float8 AS state_seconds,
               age(backend_xmin)::bigint AS xmin_age,
               left(query, 1000) AS query, right(query, 600) AS query_tail,
               pg_blocking_pids(pid) AS blocked_by
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND pid <> ALL(%s::int[])
        ORDER BY xact_start NULLS LAST, pid
        LIMIT %s
        """,
        [own_backend_pids(), limit],
    )


def backend(pid: int) -> dict[str, Any] | None:
    return fetch_one(
        """
        SELECT pid, usename AS username, application_name, client_addr::text AS client_addr,
               backend_type, state, xact_start, query_start, left(query, 1000) AS query,
               pid = pg_backend_pid() OR pid = ANY(%s::int[]) AS is_self
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid = %s
        LIMIT 1
        """,
        [own_backend_pids(), pid],
    )


def backend_signal(pid: int, action: str) -> bool:
    """pg_cancel_backend / pg_terminate_backend of one client backend of this database, as the
    app through `flowbase_signal_backend()`: the app role has no pg_signal_backend itself, and the
    function refuses superusers', the owner's and other databases' backends."""
    if action not in ("cancel", "terminate"):
        raise ValueError(action)
    row = fetch_one(
        "SELECT public.flowbase_signal_backend(%s, %s) AS ok LIMIT 1",
        [pid, action],
        using=DEFAULT_DB_ALIAS,
    )
    return bool(row and row["ok"])


def report() -> dict[str, Any]:
    rows = fetch_activity()
    for r in rows:
        add_origin(r)
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
    findings = [_blocking_finding(pid, by_pid.get(pid, {}), blockers[pid]) for pid in sorted(roots)]
    findings += [
        _held_transaction_finding(r) for r in rows if r["idle_in_transaction"] or r["long"]
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


def _terminate_fix(pid: int) -> str:
    # Cancelling an idle-in-transaction backend returns true and frees nothing: only ending
    # the session releases its snapshot and locks.
    return (
        f"-- Terminate backend {pid} on Activity and locks (needs 'Can terminate a database "
        "backend'; audited). As the app: "
        f"SELECT public.flowbase_signal_backend({pid}, 'terminate');"
    )


def _blocking_finding(pid: int, r: dict, blocked: list[int]):
    idle = (r.get("state") or "").startswith("idle in transaction")
    return finding(
        "activity.blocking",
        f"pid {pid}",
        f"Backend {pid} blocks {len(blocked)} other backend(s)",
        key=f"activity.blocking:{pid}",
        evidence={"blocked": sorted(blocked), "state": r.get("state"), "query": r.get("query")},
        fix=_terminate_fix(pid)
        if idle
        else f"SELECT pg_cancel_backend({pid});  -- or pg_terminate_backend({pid})",
    )


def _held_transaction_finding(r: dict):
    idle = r["idle_in_transaction"]
    kind = "activity.idle_in_transaction" if idle else "activity.long_transaction"
    what = (
        f"idle in transaction for {r['state_seconds'] or 0:.0f} s"
        if idle
        else f"in a transaction for {r['xact_seconds'] or 0:.0f} s"
    )
    return finding(
        kind,
        f"pid {r['pid']}",
        f"Backend {r['pid']} ({r['username']}, {r['application_name'] or 'no application'}) is {what}",
        key=f"{kind}:{r['pid']}",
        severity=Severity.WARNING,
        evidence={
            "state": r["state"],
            "xact_seconds": r["xact_seconds"],
            "state_seconds": r["state_seconds"],
            "xmin_age": r["xmin_age"],
            "query": r["query"],
            "thresholds": {
                "LONG_TRANSACTION_SECONDS": conf.get("LONG_TRANSACTION_SECONDS"),
                "IDLE_IN_TRANSACTION_SECONDS": conf.get("IDLE_IN_TRANSACTION_SECONDS"),
            },
            "why": "holds a snapshot (vacuum cannot remove dead rows) and its locks",
        },
        fix=_terminate_fix(r["pid"]),
    )
