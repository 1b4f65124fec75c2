"""The events chart (events per hour or day by severity over the list's window), as the admin
draws it for every project's events: counted live from the partitions the window prunes to
(apps.events.selectors.severity_counts) vs closed hours from the hourly roll-up with the rest
counted live (severity_counts_rolled).

    make bench ARGS="events_chart"                       # on whatever events the database has
    make bench ARGS="events_chart --events 2000000"      # + N events over the last 30 days, rolled back

The windows are the admin's (24 h and 7 d per hour, 30 d and all time per day); both sides must
return the same counts. The roll-up is brought up to date first, on this connection, and its
first (full) run and a second, incremental one are timed. `--events N` inserts N events inside
one transaction and rolls it back at the end with the roll-up it went into: nothing is left.
"""

import argparse
import time
from datetime import UTC, datetime, timedelta

from _setup import interleaved, percentile, ratio, summary
from django.db import connection, transaction

from apps.events import services
from apps.events.models import Event, Severity
from apps.events.selectors import severity_counts, severity_counts_rolled
from apps.pg.partitioning.admin import window_bounds

WINDOWS = (("24h", "hour"), ("7d", "hour"), ("30d", "day"), ("all", "day"))
SEVERITIES = [value for value, _label in Severity.choices]


def _rows(since, until):
    return (
        Event.objects.filter(created_at__gte=since, created_at__lt=until)
        if since
        else Event.objects.all()
    )


def live(since, until, bucket):
    return lambda: severity_counts(_rows(since, until), bucket=bucket)


def rolled(since, until, bucket):
    return lambda: severity_counts_rolled(
        _rows(since, until), since=since, until=until, bucket=bucket
    )


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


def roll_up() -> None:
    for run in ("first (every closed hour)", "incremental (the last hour again)"):
        started = time.perf_counter()
        report = services.event_counts_roll_up()
        print(
            f"  roll-up, {run}: {(time.perf_counter() - started) * 1000:,.0f} ms,"
            f" {report.hours_recounted:,} hours counted, up to {report.rolled_through:%Y-%m-%d %H:00}"
        )


def compare(window: str, bucket: str, repeat: int) -> tuple[float, float]:
    since, until = window_bounds(window) or (None, None)
    sides = {
        "live (pruned partitions)": live(since, until, bucket),
        "roll-up + live rest": rolled(since, until, bucket),
    }
    for run in sides.values():
        run()  # warm-up (plans, caches)
    samples = interleaved(sides, repeat=repeat)
    counts = sides["live (pruned partitions)"]()
    total = sum(n for by in counts.values() for n in by.values())
    print(f"{window} per {bucket}: {total:,} events in {len(counts):,} {bucket}s")
    for name, runs in samples.items():
        print(f"  {name:<26} {summary(runs)}")
    live_name, rolled_name = list(sides)
    p50 = ratio(percentile(samples[live_name], 50), percentile(samples[rolled_name], 50))
    p95 = ratio(percentile(samples[live_name], 95), percentile(samples[rolled_name], 95))
    print(f"  => roll-up {p50:.1f}x at p50, {p95:.1f}x at p95 (same counts on both sides)")
    return p50, p95


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--events", type=int, default=0, help="add N events (rolled back)")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with transaction.atomic():
        if args.events:
            synthesize(args.events, now - timedelta(days=30), now)
        print(f"events in the table: ~{Event.objects.count():,}")
        roll_up()
        for window, bucket in WINDOWS:
            compare(window, bucket, args.repeat)
        transaction.set_rollback(True)  # synthetic rows and the roll-up they went into


if __name__ == "__main__":
    main()
