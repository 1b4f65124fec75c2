"""Replication: slots that hold WAL back (inactive ones with any WAL retained, active ones
retaining more than REPLICATION_SLOT_WAL_BYTES; 'lost' / 'unreserved' slots are critical), and
standbys behind the primary by more than REPLICATION_LAG_SECONDS / REPLICATION_LAG_BYTES
(pg_stat_replication), with what the read router (apps.pg.routing) does meanwhile."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql

from apps.pg import routing

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


# Bytes against the primary's current WAL position; the *_lag intervals are what the primary
# measured (NULL once an idle standby has caught up: nothing left to measure, so zero).
STANDBYS_SQL = """
SELECT application_name AS name, client_addr::text AS address, state, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn)::bigint AS sent_lag_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_lag_bytes,
       coalesce(extract(epoch FROM write_lag), 0)::float8 AS write_lag_seconds,
       coalesce(extract(epoch FROM flush_lag), 0)::float8 AS flush_lag_seconds,
       coalesce(extract(epoch FROM replay_lag), 0)::float8 AS replay_lag_seconds,
       reply_time
FROM pg_stat_replication
WHERE NOT pg_is_in_recovery()
ORDER BY application_name, pid LIMIT %s
"""


def standbys() -> list[dict]:
    return fetch(STANDBYS_SQL, [100])


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


@check("overview", "replication.lag")
def standbys_behind(report: dict) -> Iterable[FindingCandidate]:
    report["standbys"] = rows = standbys()
    report["replica_routing"] = decision = routing.decision()
    max_seconds, max_bytes = conf.get("REPLICATION_LAG_SECONDS"), conf.get("REPLICATION_LAG_BYTES")
    for r in rows:
        seconds, behind = r["replay_lag_seconds"], r["replay_lag_bytes"] or 0
        if seconds < max_seconds and behind < max_bytes:
            continue
        yield finding(
            "replication.lag",
            r["name"] or r["address"] or "standby",
            f"Standby {r['name'] or r['address']} replays {seconds:.1f} s "
            f"({size(behind)}) behind the primary",
            evidence={k: r[k] for k in ("address", "state", "sync_state", "sent_lag_bytes",
                                        "replay_lag_bytes", "replay_lag_seconds")},
            fix="-- on the standby: is it starved of I/O or CPU, or are its queries holding replay"
            " back (max_standby_streaming_delay, hot_standby_feedback)?",
        )  # fmt: skip
    if decision["configured"] and decision["target"] != routing.REPLICA:
        yield finding(
            "replication.lag",
            "router",
            f"Reads meant for the replica go to the primary: {decision['reason']}",
            evidence={k: decision[k] for k in ("reason", "lag_seconds", "max_lag_seconds")},
            fix="-- start or repair the standby (docs/scaling.md, the replica); the primary"
            " serves every read meanwhile",
        )
