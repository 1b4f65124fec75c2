"""The hourly event counts behind the events chart: SQL and the trigger that keeps them honest.

The roll-up job (`services.event_counts_roll_up`) counts closed hours of `events_event` into
`events_eventhourcount` and records the range it covers in `events_eventcountrollup`. A write
into a covered hour (a back-dated import, a delete, an update of `created_at`) fires the
statement trigger below, which marks the hour in `events_eventcountdirtyhour`; the chart counts
marked hours live until the next run recounts them. The mark upserts with DO UPDATE so it holds
the row's lock until the writer commits: the job's DELETE of the marks waits for it, then its
recount sees the writer's rows.
"""

from __future__ import annotations

import pgtrigger

from apps.pg import triggers

# Hours are UTC hours, whatever the session's TimeZone: the chart's buckets are UTC too.
HOUR = "date_trunc('hour', {column}, 'UTC')"

_MARK = (
    "INSERT INTO {{tables[events.EventCountDirtyHour]}} (hour, marked_at)"
    " SELECT DISTINCT " + HOUR.format(column="r.created_at") + ", now()"
    " FROM ({rows}) r JOIN {{tables[events.EventCountRollup]}} s"
    " ON r.created_at >= s.rolled_from AND r.created_at < s.rolled_through"
    " ON CONFLICT (hour) DO UPDATE SET marked_at = EXCLUDED.marked_at;"
)


def mark_hours_trigger(name: str, operation, referencing: pgtrigger.Referencing):
    """AFTER … FOR EACH STATEMENT: the covered hours of the statement's rows (old and new)."""
    sources = [table for table in (referencing.old, referencing.new) if table]
    rows = " UNION ALL ".join(f"SELECT created_at FROM {table}" for table in sources)
    return triggers.after_statement(name, operation, referencing, _MARK.format(rows=rows))


FORGET_RANGE = "DELETE FROM events_eventhourcount WHERE hour >= %(lo)s AND hour < %(hi)s"

# Recount [lo, hi): the hours' old counts out, fresh ones in (one transaction, the caller's).
RECOUNT_RANGE = [
    FORGET_RANGE,
    "INSERT INTO events_eventhourcount (hour, severity, events)"
    " SELECT " + HOUR.format(column="created_at") + ", severity, count(*) FROM events_event"
    " WHERE created_at >= %(lo)s AND created_at < %(hi)s GROUP BY 1, 2",
]

# Recount the listed hours: one index range per hour (run-time partition pruning).
RECOUNT_HOURS = [
    "DELETE FROM events_eventhourcount WHERE hour = ANY(%(hours)s)",
    "INSERT INTO events_eventhourcount (hour, severity, events)"
    " SELECT h.hour, e.severity, count(*)"
    " FROM unnest(%(hours)s::timestamptz[]) h(hour) JOIN events_event e"
    " ON e.created_at >= h.hour AND e.created_at < h.hour + interval '1 hour'"
    " GROUP BY 1, 2",
]

# Every mark, taken in the job's transaction (waits for writers still holding one).
TAKE_MARKS = "DELETE FROM events_eventcountdirtyhour RETURNING hour"

OLDEST_HOUR = "SELECT " + HOUR.format(column="min(created_at)") + " FROM events_event"

# What the chart needs to know, in one round trip: the covered range and the marked hours.
# (No min(created_at): planned over every partition it costs more than the rest of the chart;
# a detached partition's hours are dropped by the detach itself, event_counts_forget.)
CHART_STATE = (
    "SELECT s.rolled_from, s.rolled_through,"
    " ARRAY(SELECT hour FROM events_eventcountdirtyhour ORDER BY hour LIMIT %(limit)s)"
    " FROM events_eventcountrollup s WHERE s.id = 1"
)
