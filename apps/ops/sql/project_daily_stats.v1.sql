-- Per project and UTC day, over the last 90 days: tasks created, tasks completed (done),
-- events by severity. The window keeps each refresh bounded (events are partitioned by
-- created_at, so older partitions are pruned) however large the history grows.
CREATE MATERIALIZED VIEW project_daily_stats AS
WITH bounds AS (
    SELECT ((now() AT TIME ZONE 'UTC')::date - 89)::timestamp AT TIME ZONE 'UTC' AS since
), created AS (
    SELECT w.project_id, (t.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
    FROM tasks_task t
    JOIN workflows_workflow w ON w.id = t.workflow_id
    WHERE t.created_at >= (SELECT since FROM bounds)
    GROUP BY 1, 2
), completed AS (
    SELECT w.project_id, (t.completed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
    FROM tasks_task t
    JOIN workflows_workflow w ON w.id = t.workflow_id
    WHERE t.status = 'done' AND t.completed_at >= (SELECT since FROM bounds)
    GROUP BY 1, 2
), events AS (
    SELECT e.project_id, (e.created_at AT TIME ZONE 'UTC')::date AS day,
           count(*) AS total,
           count(*) FILTER (WHERE e.severity = 'debug') AS debug,
           count(*) FILTER (WHERE e.severity = 'info') AS info,
           count(*) FILTER (WHERE e.severity = 'warning') AS warning,
           count(*) FILTER (WHERE e.severity = 'error') AS error,
           count(*) FILTER (WHERE e.severity = 'critical') AS critical
    FROM events_event e
    WHERE e.project_id IS NOT NULL AND e.created_at >= (SELECT since FROM bounds)
    GROUP BY 1, 2
)
SELECT
    (project_id::text || ':' || day::text)::varchar(64) AS id,
    project_id,
    COALESCE(p.name, '') AS project_name,
    day,
    COALESCE(c.n, 0)::int AS tasks_created,
    COALESCE(d.n, 0)::int AS tasks_completed,
    COALESCE(e.total, 0)::int AS events_total,
    COALESCE(e.debug, 0)::int AS events_debug,
    COALESCE(e.info, 0)::int AS events_info,
    COALESCE(e.warning, 0)::int AS events_warning,
    COALESCE(e.error, 0)::int AS events_error,
    COALESCE(e.critical, 0)::int AS events_critical
FROM created c
FULL JOIN completed d USING (project_id, day)
FULL JOIN events e USING (project_id, day)
LEFT JOIN projects_project p ON p.id = project_id
WITH DATA;

CREATE UNIQUE INDEX project_daily_stats_pk ON project_daily_stats (id);
CREATE INDEX project_daily_stats_project_day_idx ON project_daily_stats (project_id, day);
