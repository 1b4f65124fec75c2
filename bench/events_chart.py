"""The events chart (events per day by severity over a date window): read live from the
partitions the window prunes to (apps.events.selectors.severity_counts, what the admin runs) vs
from the daily rollup, the materialized view project_daily_stats.

    make bench ARGS="events_chart"                       # on whatever events the database has
    make bench ARGS="events_chart --events 2000000"      # + N events over the last 30 days, rolled back

Windows of 1, 7 and 30 whole UTC days ending at today's midnight: the rollup has one row per
project and UTC day, so both sides count the same days and only events that name a project
(the view leaves workflow-only events out). Both sides must return the same counts. The view is
refreshed first, on this connection; in service it lags the table by up to its staleness limit
(30 min, apps/ops/matviews.py), and it cannot draw the hourly columns of the 24 h / 7 d chart at
all; those are timed live on their own line. `--events N` inserts N events inside one transaction
and rolls it back at the end, so nothing is left behind.
"""

import argparse
import time
from datetime import UTC, datetime, timedelta

from _setup import interleaved, percentile, ratio, summary
from django.db import connection, transaction
from django.db.models import Sum

from apps.events.models import Severity
from apps.events.selectors import event_window, severity_counts
from apps.ops.models import ProjectDailyStats

WINDOWS_DAYS = (1, 7, 30)
SEVERITIES = [value for value, _label in Severity.choices]


def live(since: datetime, until: datetime, bucket: str = "day"):
    def run():
        events = event_window(since=since, until=until).filter(project_id__isnull=False)
        return severity_counts(events, bucket=bucket)

    return run


def rollup(since: datetime, until: datetime):
    """The same counts from project_daily_stats, summed over projects, zero counts left out (as
    the live side never returns them)."""

    def run():
        rows = (
            ProjectDailyStats.objects.filter(day__gte=since.date(), day__lt=until.date())
            .values("day")
            .annotate(**{s: Sum(f"events_{s}") for s in SEVERITIES})
            .order_by()
        )
        counts: dict = {}
        for row in rows:
            by = {s: row[s] for s in SEVERITIES if row[s]}
            if by:
                counts[datetime(row["day"].year, row["day"].month, row["day"].day, tzinfo=UTC)] = by
        return counts

    return run


def synthesize(n: int, since: datetime, until: datetime) -> None:
    """N events evenly over [since, until), every severity, each naming a project."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT array_agg(id) FROM projects_project")
        projects = cursor.fetchone()[0]
        if not projects:
            raise SystemExit("--events needs projects (make run, or seed_demo): none found")
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO events_event (event_type, severity, source_component, target_component,"
            " payload, correlation_id, trace_id, created_at, project_id)"
            " SELECT 'bench.events_chart', (%s::text[])[1 + (g * 7) %% %s], 'bench', '', '{}',"
            " '', '', %s::timestamptz + (g::float8 / %s) * (%s::timestamptz - %s::timestamptz),"
            " (%s::bigint[])[1 + g %% %s]"
            " FROM generate_series(0, %s - 1) g",
            [SEVERITIES, len(SEVERITIES), since, n, until, since, projects, len(projects), n],
        )
        cursor.execute("ANALYZE events_event")
        print(f"  + {n:,} events in {time.perf_counter() - started:.1f} s (rolled back at the end)")


def refresh_rollup() -> None:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("REFRESH MATERIALIZED VIEW project_daily_stats")
    print(f"  refresh project_daily_stats: {(time.perf_counter() - started) * 1000:.0f} ms")


def events_in(since: datetime, until: datetime) -> int:
    return event_window(since=since, until=until).filter(project_id__isnull=False).count()


def compare(days: int, today: datetime, repeat: int) -> None:
    since, until = today - timedelta(days=days), today
    sides = {
        "live (pruned partitions)": live(since, until),
        "rollup (matview)": rollup(since, until),
    }
    for run in sides.values():
        run()  # warm-up (plans, caches)
    samples = interleaved(sides, repeat=repeat)
    counts = sides["rollup (matview)"]()
    total = sum(n for by in counts.values() for n in by.values())
    print(f"{days} d: {since:%Y-%m-%d} .. {until:%Y-%m-%d}, {total:,} events in {len(counts)} days")
    for name, runs in samples.items():
        print(f"  {name:<26} {summary(runs)}")
    live_name, view_name = list(sides)
    print(
        f"  => rollup {ratio(percentile(samples[live_name], 50), percentile(samples[view_name], 50)):.1f}x"
        f" at p50, {ratio(percentile(samples[live_name], 95), percentile(samples[view_name], 95)):.1f}x"
        " at p95 (same counts on both sides)"
    )
    if days <= 7:
        # What the 24 h / 7 d chart draws: per hour, which the daily rollup has no rows for.
        hourly = interleaved({"live hourly": live(since, until, "hour")}, repeat=repeat)
        print(f"  {'live hourly (no rollup)':<26} {summary(hourly['live hourly'])}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--events", type=int, default=0, help="add N events (rolled back)")
    args = parser.parse_args()
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    longest = today - timedelta(days=max(WINDOWS_DAYS))
    with transaction.atomic():
        if args.events:
            synthesize(args.events, longest, now)
        print(f"events naming a project in the last 30 whole days: {events_in(longest, today):,}")
        refresh_rollup()
        for days in WINDOWS_DAYS:
            compare(days, today, args.repeat)
        transaction.set_rollback(True)  # synthetic rows and the refresh they went into


if __name__ == "__main__":
    main()
