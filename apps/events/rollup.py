"""The hourly event counts behind the events chart: SQL and the trigger that keeps them honest.

The roll-up job (`services.event_counts_roll_up`) counts closed hours of `events_event` into
`events_eventhourcount` and records the range it covers in `events_eventcountrollup`. A write
into a closed hour (a back-dated import, a delete, an update of `created_at`), counted yet or
not, fires the statement trigger below, which marks the hour in `events_eventcountdirtyhour`;
the chart counts marked hours live until a run recounts them. A mark is keyed by hour and
writing transaction and inserted with DO NOTHING: writers never wait for each other or for the
job. The job takes (deletes) only the marks it can see, i.e. of committed writers, whose rows its
recount then sees; a mark still uncommitted stays, and is taken by a later run.
"""

from __future__ import annotations

from datetime import timedelta

import pgtrigger

from apps.pg import triggers

# An hour is closed once it ended this long ago: the job counts it, and a write into it marks it.
SETTLE = timedelta(minutes=5)

# Hours are UTC hours, whatever the session's TimeZone: the chart's buckets are UTC too.
HOUR = "date_trunc('hour', {column}, 'UTC')"

# Closed by the clock, as the job counts them; a row written into the open hour needs no mark
# (the job counts that hour later, and recounts its last one).
# Hours before the covered range are marked too: a run that extends the range down takes them.
_MARK = (
    "INSERT INTO {{tables[events.EventCountDirtyHour]}} (hour, xact)"
    " SELECT DISTINCT " + HOUR.format(column="r.created_at") + ","
    " pg_catalog.pg_current_xact_id()::text::bigint"
    " FROM ({rows}) r JOIN {{tables[events.EventCountRollup]}} s ON s.rolled_from IS NOT NULL"
    " WHERE r.created_at < "
    + HOUR.format(
        column=f"pg_catalog.clock_timestamp() - interval '{SETTLE // timedelta(minutes=1)} minutes'"
    )
    + " ON CONFLICT (hour, xact) DO NOTHING;"
)


def mark_hours_trigger(name: str, operation, referencing: pgtrigger.Referencing):
    """AFTER … FOR EACH STATEMENT: the closed hours of the statement's rows (old and new)."""
    sources = [table for table in (referencing.old, referencing.new) if table]
    rows = " UNION ALL ".join(f"SELECT created_at FROM {table}" for table in sources)
    return triggers.after_statement(name, operation, referencing, _MARK.format(rows=rows))


FORGET_RANGE = "DELETE FROM events_eventhourcount WHERE hour >= %(lo)s AND hour < %(hi)s"
FORGET_BEFORE = "DELETE FROM events_eventhourcount WHERE hour < %(lo)s"
FORGET_ALL = "DELETE FROM events_eventhourcount"

FORGET_PARTITION = (
    "UPDATE events_eventcountrollup SET partitions = array_remove(partitions, %(name)s)"
    " WHERE id = 1"
)

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

# Marks of hours before the oldest row (their rows were deleted or detached since): no use.
DROP_STALE_MARKS = "DELETE FROM events_eventcountdirtyhour WHERE hour < %(lo)s"

# The visible marks of [lo, hi), taken in the job's transaction (uncommitted ones stay).
TAKE_MARKS = (
    "DELETE FROM events_eventcountdirtyhour WHERE hour >= %(lo)s AND hour < %(hi)s RETURNING hour"
)

# Taken first in each job transaction, as a detach takes it first: the job's row locks on the
# counts then never wait behind a DETACH that waits for the job (a deadlock).
LOCK_EVENTS = "LOCK TABLE events_event IN ACCESS SHARE MODE"

OLDEST_HOUR = "SELECT " + HOUR.format(column="min(created_at)") + " FROM events_event"

# What the chart needs to know, in one round trip: the covered range and the marked hours.
# (No min(created_at): planned over every partition it costs more than the rest of the chart;
# a detached partition's hours are dropped by the detach itself, event_counts_forget.)
CHART_STATE = (
    "SELECT s.rolled_from, s.rolled_through,"
    " ARRAY(SELECT DISTINCT hour FROM events_eventcountdirtyhour"
    " WHERE hour >= s.rolled_from AND hour < s.rolled_through ORDER BY hour LIMIT %(limit)s)"
    " FROM events_eventcountrollup s WHERE s.id = 1"
)
