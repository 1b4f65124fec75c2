"""Trigger overhead: bulk writes with every trigger on vs with user triggers disabled, one run.

Each variant runs inside a transaction that is rolled back, so the database is left as it was.
`ALTER TABLE … DISABLE TRIGGER USER` keeps foreign-key checks (internal triggers) on, so the only
difference between the variants is Flowbase's own triggers (transitions, roll-up, cycle check,
updated_at, audit capture). Goals for a bulk task insert: <= 2x server-side, <= 1.2x through the ORM
(there Python builds the rows: compare the seconds as well as the ratio).

    python bench/triggers.py [--rows 100000] [--repeat 2]
"""

import argparse
import time
from datetime import timedelta

from _setup import ratio  # sets up Django first
from django.db import connection, transaction
from django.utils import timezone

from apps.events.models import Event
from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow

TABLES = ["tasks_task", "tasks_taskdependency", "workflows_workflow", "events_event"]
BATCH = 5_000


SQL_TASKS = """
INSERT INTO tasks_task (created_at, updated_at, workflow_id, title, description, details,
                        test_strategy, status, priority, requirements, acceptance_criteria,
                        assignee, legacy)
SELECT now(), now(), w.ids[1 + g %% 10], 'sql task ' || g, '', '', '',
       CASE WHEN g %% 4 = 0 THEN 'done' ELSE 'pending' END, g %% 11, '[]', '[]', '', '{}'
FROM generate_series(1, %(rows)s) g,
     (SELECT array_agg(id) AS ids FROM workflows_workflow WHERE project_id = %(project)s) w
"""
SQL_EVENTS = """
INSERT INTO events_event (event_type, severity, source_component, target_component, payload,
                          correlation_id, trace_id, created_at)
SELECT 'bench', 'info', 'bench', '', '{}', '', '', now() - g * interval '1 second'
FROM generate_series(1, %(rows)s) g
"""


class Rollback(Exception):
    pass


def _disable_triggers() -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")


def run_once(rows: int, *, triggers_on: bool) -> dict[str, float]:
    timings: dict[str, float] = {}
    try:
        with transaction.atomic():
            if not triggers_on:
                _disable_triggers()
            project = Project.objects.create(
                name=f"bench-triggers-{time.time_ns()}", slug=f"bt-{time.time_ns()}"
            )
            workflows = Workflow.objects.bulk_create(
                Workflow(project=project, name=f"w{i}") for i in range(10)
            )

            start = time.perf_counter()
            tasks = Task.objects.bulk_create(
                (
                    Task(
                        workflow=workflows[i % 10],
                        title=f"task {i}",
                        priority=i % 11,
                        status="done" if i % 4 == 0 else "pending",
                    )
                    for i in range(rows)
                ),
                batch_size=BATCH,
            )
            timings["insert tasks"] = time.perf_counter() - start

            start = time.perf_counter()
            TaskDependency.objects.bulk_create(
                (
                    TaskDependency(task=tasks[i], depends_on=tasks[i - 10])
                    # chains of up to 50 tasks per workflow: the depth real plans have
                    for i in range(10, min(rows, 20_010))
                    if (i // 10) % 50
                ),
                batch_size=BATCH,
            )
            timings["insert ~20k dependencies"] = time.perf_counter() - start

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE tasks_task")  # fresh rows: give the planner real numbers
            start = time.perf_counter()
            Task.objects.filter(workflow__in=workflows, status="pending").update(
                status="in_progress"
            )
            timings["update statuses"] = time.perf_counter() - start

            now = timezone.now()
            start = time.perf_counter()
            Event.objects.bulk_create(
                (
                    Event(
                        event_type="bench",
                        source_component="bench",
                        created_at=now - timedelta(seconds=i),
                    )
                    for i in range(rows)
                ),
                batch_size=BATCH,
            )
            timings["insert events"] = time.perf_counter() - start

            # The same inserts generated in the server: the database's own cost, without the
            # Python time of building 100k model instances.
            with connection.cursor() as cursor:
                start = time.perf_counter()
                cursor.execute(SQL_TASKS, {"rows": rows, "project": project.pk})
                timings["insert tasks (server-side SQL)"] = time.perf_counter() - start
                start = time.perf_counter()
                cursor.execute(SQL_EVENTS, {"rows": rows})
                timings["insert events (server-side SQL)"] = time.perf_counter() - start
            raise Rollback
    except Rollback:
        pass
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    best: dict[bool, dict[str, float]] = {True: {}, False: {}}
    for _ in range(args.repeat):
        for triggers_on in (False, True):  # alternate so cache warmth favours neither
            for step, seconds in run_once(args.rows, triggers_on=triggers_on).items():
                best[triggers_on][step] = min(seconds, best[triggers_on].get(step, float("inf")))

    print(f"rows={args.rows} batch={BATCH} best of {args.repeat}")
    print(f"{'step':<26}{'triggers off':>14}{'triggers on':>14}{'overhead':>10}")
    for step in best[True]:
        off, on = best[False][step], best[True][step]
        print(f"{step:<26}{off:>13.3f}s{on:>13.3f}s{ratio(on, off):>9.2f}x")
    for label, goal in (("insert tasks", 1.2), ("insert tasks (server-side SQL)", 2.0)):
        on, off = best[True][label], best[False][label]
        print(f"{label}: overhead {ratio(on, off):.2f}x, +{on - off:.2f}s (goal <= {goal}x)")


if __name__ == "__main__":
    main()
