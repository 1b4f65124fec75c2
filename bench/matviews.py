"""Dashboard questions answered from the materialized views vs the same live aggregates.

Works at whatever scale the database has (prints the row counts it ran on). The goal, ≥ 50x,
is for `seed_demo --scale large` (1M tasks, 10M events). On a database whose name contains
"bench", `--synthetic-tasks N` first adds N tasks (and 5 events per task) so the script can be
run without the demo seed:

    DATABASE_URL=postgres://…/flowbase_bench python bench/matviews.py --synthetic-tasks 200000
    python bench/matviews.py [--repeat 5]

Questions:
  1. project dashboard: per project and day over the last 30 days, tasks created/completed and
     events by severity (project_daily_stats);
  2. workflow board: every workflow of the busiest project with tasks by status, progress,
     mean and p90 task duration (workflow_summary).
"""

import argparse
import time

from _setup import interleaved, percentile, ratio, summary
from django.db import connection

from apps.ops import services

LIVE_DAILY = """
WITH since AS (SELECT ((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC' AS t),
created AS (
    SELECT w.project_id, (t.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
    FROM tasks_task t JOIN workflows_workflow w ON w.id = t.workflow_id
    WHERE t.created_at >= (SELECT t FROM since) GROUP BY 1, 2
), completed AS (
    SELECT w.project_id, (t.completed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
    FROM tasks_task t JOIN workflows_workflow w ON w.id = t.workflow_id
    WHERE t.status = 'done' AND t.completed_at >= (SELECT t FROM since) GROUP BY 1, 2
), events AS (
    SELECT e.project_id, (e.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS total,
           count(*) FILTER (WHERE e.severity = 'warning') AS warning,
           count(*) FILTER (WHERE e.severity = 'error') AS error,
           count(*) FILTER (WHERE e.severity = 'critical') AS critical
    FROM events_event e
    WHERE e.project_id IS NOT NULL AND e.created_at >= (SELECT t FROM since) GROUP BY 1, 2
)
SELECT project_id, day, COALESCE(c.n, 0), COALESCE(d.n, 0), COALESCE(e.total, 0),
       COALESCE(e.warning, 0), COALESCE(e.error, 0), COALESCE(e.critical, 0)
FROM created c FULL JOIN completed d USING (project_id, day) FULL JOIN events e USING (project_id, day)
ORDER BY project_id, day
"""
VIEW_DAILY = """
SELECT project_id, day, tasks_created, tasks_completed, events_total, events_warning,
       events_error, events_critical
FROM project_daily_stats
WHERE day >= (now() AT TIME ZONE 'UTC')::date - 29
ORDER BY project_id, day
"""
LIVE_BOARD = """
SELECT w.id, w.name, w.status, count(t.id),
       count(t.id) FILTER (WHERE t.status = 'done'),
       count(t.id) FILTER (WHERE t.status = 'pending'),
       COALESCE(round(100.0 * count(t.id) FILTER (WHERE t.status = 'done')
           / NULLIF(count(t.id) FILTER (WHERE t.status <> 'cancelled'), 0), 2), 0),
       avg(t.completed_at - t.created_at) FILTER (WHERE t.completed_at IS NOT NULL),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY t.completed_at - t.created_at)
           FILTER (WHERE t.completed_at IS NOT NULL)
FROM workflows_workflow w LEFT JOIN tasks_task t ON t.workflow_id = w.id
WHERE w.project_id = %s
GROUP BY w.id
ORDER BY w.id
"""
VIEW_BOARD = """
SELECT workflow_id, workflow_name, status, tasks_total, tasks_done, tasks_pending, progress,
       mean_duration, p90_duration
FROM workflow_summary WHERE project_id = %s ORDER BY workflow_id
"""


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def row_count(table: str) -> int:
    return int(scalar(f"SELECT count(*) FROM {connection.ops.quote_name(table)}"))


def synthesize(tasks: int) -> None:
    """Add synthetic projects/workflows/tasks/events (bench databases only)."""
    name = connection.settings_dict["NAME"]
    if "bench" not in name:
        raise SystemExit(f"--synthetic-tasks writes rows: refused on database {name!r}")
    projects = max(10, tasks // 5_000)
    workflows = max(100, tasks // 50)
    tag = time.time_ns()
    print(
        f"synthesizing {projects} projects, {workflows} workflows, {tasks} tasks, {5 * tasks} events"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO projects_project (created_at, updated_at, name, slug, description,"
            " repository_url, linear_team_id, settings, status)"
            " SELECT now(), now(), %s || g, %s || g, '', '', '', '{}', 'active'"
            " FROM generate_series(1, %s) g",
            [f"bench {tag} ", f"bench-{tag}-", projects],
        )
        cursor.execute(
            "INSERT INTO workflows_workflow (created_at, updated_at, name, description, requirements,"
            " phase, status, progress, definition, node_count, tags, metrics, project_id,"
            " tasks_done, tasks_total)"
            " SELECT now() - interval '120 days', now(), 'wf ' || g, '', '', 'planning', 'active', 0,"
            " CASE WHEN g %% 3 = 0 THEN '{}'::jsonb ELSE '{\"nodes\": []}'::jsonb END, g %% 40, '[]',"
            " '{}', p.id, 0, 0"
            " FROM generate_series(1, %s) g"
            " JOIN LATERAL (SELECT id FROM projects_project WHERE slug = %s || (1 + g %% %s)) p ON true",
            [workflows, f"bench-{tag}-", projects],
        )
        cursor.execute(
            "SELECT min(w.id), max(w.id) FROM workflows_workflow w"
            " JOIN projects_project p ON p.id = w.project_id WHERE p.slug LIKE %s",
            [f"bench-{tag}-%"],
        )
        wf_min, wf_max = cursor.fetchone()
        step = 100_000
        for offset in range(0, tasks, step):
            n = min(step, tasks - offset)
            cursor.execute(
                "INSERT INTO tasks_task (created_at, updated_at, title, description, details,"
                " test_strategy, status, priority, requirements, acceptance_criteria, assignee,"
                " legacy, completed_at, workflow_id)"
                " SELECT c, c, 'task ' || g, '', '', '',"
                " (ARRAY['pending','in_progress','review','done','done','done','cancelled'])[1 + g %% 7],"
                " g %% 11, '[]', '[]', '', '{}',"
                " CASE WHEN g %% 7 IN (3, 4, 5) THEN c + (g %% 200) * interval '1 hour' END,"
                " %s + g %% (%s - %s + 1)"
                " FROM generate_series(%s, %s) g,"
                " LATERAL (SELECT now() - (g %% 120) * interval '1 day' - interval '9 days' AS c) x",
                [wf_min, wf_max, wf_min, offset + 1, offset + n],
            )
        for offset in range(0, 5 * tasks, step * 5):
            n = min(step * 5, 5 * tasks - offset)
            cursor.execute(
                "INSERT INTO events_event (event_type, severity, source_component, target_component,"
                " payload, correlation_id, trace_id, created_at, project_id, workflow_id)"
                " SELECT 'bench', (ARRAY['debug','info','info','info','warning','error','critical'])"
                "[1 + g %% 7], 'bench', '', '{}', '', '',"
                " now() - (g %% (29 * 24 * 60)) * interval '1 minute', w.project_id, w.id"
                " FROM generate_series(%s, %s) g"
                " JOIN workflows_workflow w ON w.id = %s + g %% (%s - %s + 1)",
                [offset + 1, offset + n, wf_min, wf_max, wf_min],
            )
        for table in ("projects_project", "workflows_workflow", "tasks_task", "events_event"):
            cursor.execute(f"ANALYZE {table}")


def compare(live_sql: str, view_sql: str, params, repeat: int) -> None:
    """Live aggregate vs materialized view, interleaved; both must return the same rows."""

    def side(sql):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

        return run

    side(live_sql)(), side(view_sql)()  # warm-up (caches, plans)
    samples = interleaved(
        {"live aggregate": side(live_sql), "materialized view": side(view_sql)}, repeat=repeat
    )
    rows = len(side(view_sql)())
    for name, runs in samples.items():
        print(f"  {name:<18} {summary(runs)}")
    live_p50, view_p50 = (
        percentile(samples["live aggregate"], 50),
        percentile(samples["materialized view"], 50),
    )
    live_p95, view_p95 = (
        percentile(samples["live aggregate"], 95),
        percentile(samples["materialized view"], 95),
    )
    print(
        f"  => {ratio(live_p50, view_p50):.0f}x at p50, {ratio(live_p95, view_p95):.0f}x at p95 ({rows} rows, same on both sides)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--synthetic-tasks", type=int, default=0)
    args = parser.parse_args()
    if args.synthetic_tasks:
        synthesize(args.synthetic_tasks)

    print(
        "database: "
        + ", ".join(
            f"{table} {row_count(table):,}"
            for table in ("projects_project", "workflows_workflow", "tasks_task", "events_event")
        )
    )
    for name in ("project_daily_stats", "workflow_summary"):
        record = services.matview_refresh(name=name)
        print(f"  refresh {name}: {record.outcome} in {record.duration_ms} ms, {record.rows} rows")

    print("1. project dashboard, last 30 days")
    compare(LIVE_DAILY, VIEW_DAILY, None, args.repeat)

    project = scalar(
        "SELECT project_id FROM workflows_workflow GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )
    if project is None:
        print("2. workflow board: no workflows in this database, skipped")
        return
    print(f"2. workflow board of project {project}")
    compare(LIVE_BOARD, VIEW_BOARD, [project], args.repeat)


if __name__ == "__main__":
    main()
