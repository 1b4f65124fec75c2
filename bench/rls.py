"""What row-level security costs: the same queries, the same rows, with the policies on and off.

"off" runs in the all-projects scope (the BYPASSRLS role: no policy is evaluated) with the
admin's own project filter; "on" runs as a member of that one project (the policies apply) with
the same filter, which is what a scoped user's changelist sends; "policy only" drops the admin's
filter and leaves the choice of rows to PostgreSQL alone. Cases: the tasks changelist's page and
its count, the events window (last 24 h of one project, newest first) and its count by severity,
a title search. Interleaved, >= 5 repetitions, p50/p95, on/off.

    python bench/rls.py [--scale small|medium] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

# Row-level security binds the app's login only (the owner, which `make bench` connects as for
# the other benchmarks, owns the tables and is never subject to it).
os.environ["DATABASE_URL"] = os.environ.get("APP_DATABASE_URL") or os.environ["DATABASE_URL"]

from _setup import interleaved, percentile, summary
from django.db.models import Count, Q
from django.utils import timezone

from apps.demo.services import demo_seed
from apps.events.models import EventRow
from apps.pg import rowscope
from apps.tasks.models import Task
from apps.workflows.models import Workflow

MIN_TASKS = {"small": 500, "medium": 20_000}


def _scoped(scope, query):
    def run():
        with rowscope.bound(scope):
            return query()

    return run


def cases(project_id: int, term: str) -> dict:
    since = timezone.now() - timedelta(hours=24)
    # The event admin's filter: an event names its project, its workflow, or both.
    of_project = Q(project_id=project_id) | Q(workflow__project_id=project_id)

    def tasks_page(filtered: bool):
        qs = Task.objects.select_related("workflow").order_by("workflow_id", "-priority", "id")
        if filtered:
            qs = qs.filter(workflow__project_id=project_id)
        return lambda: list(qs.values_list("id", flat=True)[:50])

    def tasks_count(filtered: bool):
        qs = Task.objects.all()
        if filtered:
            qs = qs.filter(workflow__project_id=project_id)
        return lambda: qs.count()

    def events_window(filtered: bool):
        qs = EventRow.objects.filter(created_at__gte=since).order_by("-created_at", "-id")
        if filtered:
            qs = qs.filter(of_project)
        return lambda: list(qs.values_list("id", flat=True)[:50])

    def events_by_severity(filtered: bool):
        qs = EventRow.objects.filter(created_at__gte=since)
        if filtered:
            qs = qs.filter(of_project)
        return lambda: sorted(qs.values_list("severity").annotate(n=Count("id")))

    def tasks_search(filtered: bool):
        qs = Task.objects.filter(title__icontains=term).order_by("id")
        if filtered:
            qs = qs.filter(workflow__project_id=project_id)
        return lambda: list(qs.values_list("id", flat=True)[:50])

    return {
        "tasks page": tasks_page,
        "tasks count": tasks_count,
        "events window": events_window,
        "events by severity": events_by_severity,
        "tasks search": tasks_search,
    }


def _is_the_app_login() -> bool:
    from django.db import connection

    connection.ensure_connection()
    return bool(getattr(connection, "_flowbase_row_scoped", False))


def main(argv: list[str]) -> int:
    if not _is_the_app_login():
        print("bench/rls.py must connect as the app's login (APP_DATABASE_URL or DATABASE_URL)")
        return 2
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small", choices=sorted(MIN_TASKS))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if Task.objects.count() < MIN_TASKS[args.scale]:
        print(f"seeding demo data ({args.scale})", flush=True)
        demo_seed(scale=args.scale)
        # Measure in a fresh process: the seeder leaves statistics and caches mid-change.
        os.execv(sys.executable, [sys.executable, *sys.argv])
    busiest = (
        Workflow.objects.values("project_id").annotate(n=Count("tasks")).order_by("-n").first()
    )
    project_id = busiest["project_id"]
    term = (
        Task.objects.filter(workflow__project_id=project_id).values_list("title", flat=True).first()
        or "a"
    ).split()[0][:6]
    member = rowscope.RowScope.of([project_id])
    print(
        f"project {project_id}: {Task.objects.filter(workflow__project_id=project_id).count()} of "
        f"{Task.objects.count()} tasks, {EventRow.objects.count()} events; search {term!r}"
    )
    print(f"{'case':<20} {'off (bypass role)':>30} {'on (member)':>30} {'on/off p50':>11}")
    for name, build in cases(project_id, term).items():
        samples = interleaved(
            {
                "off": _scoped(rowscope.EVERY_ROW, build(True)),
                "on": _scoped(member, build(True)),
                "policy only": _scoped(member, build(False)),
            },
            repeat=args.repeat,
        )
        on_off = percentile(samples["on"], 50) / percentile(samples["off"], 50)
        print(
            f"{name:<20} {summary(samples['off']):>30} {summary(samples['on']):>30} {on_off:>10.2f}x"
            f"   policy only: {summary(samples['policy only'])}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
