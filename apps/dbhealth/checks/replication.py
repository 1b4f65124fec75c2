"""Replication slots that hold WAL back: inactive ones (any WAL retained) and active ones
retaining more than REPLICATION_SLOT_WAL_BYTES; 'lost' / 'unreserved' slots are critical."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql

from .. import conf
from ..runner import as_string, fetch
from .base import FindingCandidate, Severity, check, finding, size

SLOTS_SQL = """
SELECT slot_name AS name, slot_type AS type, database, active, active_pid, wal_status,
       CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN 0
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) END::bigint AS retained_bytes,
       age(xmin)::bigint AS xmin_age, age(catalog_xmin)::bigint AS catalog_xmin_age
FROM pg_replication_slots
ORDER BY retained_bytes DESC LIMIT %s
"""


def slots() -> list[dict]:
    return fetch(SLOTS_SQL, [500])


@check("overview", "replication.slot")
def slots_holding_wal(report: dict) -> Iterable[FindingCandidate]:
    report["replication_slots"] = rows = slots()
    for r in rows:
        lost = r["wal_status"] in ("lost", "unreserved")
        big = r["retained_bytes"] >= conf.get("REPLICATION_SLOT_WAL_BYTES")
        if not (lost or big or (not r["active"] and r["retained_bytes"] > 0)):
            continue
        literal = as_string(sql.Literal(r["name"]))
        yield finding(
            "replication.slot",
            r["name"],
            f"Replication slot {r['name']} ({'active' if r['active'] else 'inactive'}) holds "
            f"{size(r['retained_bytes'])} of WAL" + (f"; WAL status {r['wal_status']}" if lost else ""),
            severity=Severity.CRITICAL if lost or big else Severity.WARNING,
            evidence={k: r[k] for k in ("type", "database", "active", "wal_status",
                                        "retained_bytes", "xmin_age", "catalog_xmin_age")},
            fix=(
                f"SELECT pg_drop_replication_slot({literal});"
                "  -- only when its consumer is gone for good: that consumer must then be rebuilt"
            ),
        )  # fmt: skip
