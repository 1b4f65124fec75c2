-- Per project and ISO week (UTC): tasks created, tasks completed (status done), mean cycle time.
CREATE MATERIALIZED VIEW weekly_task_throughput AS
WITH created AS (
    SELECT w.project_id,
           date_trunc('week', t.created_at AT TIME ZONE 'UTC')::date AS week,
           count(*) AS n
    FROM tasks_task t
    JOIN workflows_workflow w ON w.id = t.workflow_id
    GROUP BY 1, 2
), completed AS (
    SELECT w.project_id,
           date_trunc('week', t.completed_at AT TIME ZONE 'UTC')::date AS week,
           count(*) AS n,
           avg(t.completed_at - t.created_at) AS mean_cycle_time
    FROM tasks_task t
    JOIN workflows_workflow w ON w.id = t.workflow_id
    WHERE t.status = 'done' AND t.completed_at IS NOT NULL
    GROUP BY 1, 2
)
SELECT
    (project_id::text || ':' || week::text)::varchar(64) AS id,
    project_id,
    p.name AS project_name,
    week,
    COALESCE(c.n, 0)::int AS tasks_created,
    COALESCE(d.n, 0)::int AS tasks_completed,
    d.mean_cycle_time
FROM created c
FULL JOIN completed d USING (project_id, week)
JOIN projects_project p ON p.id = project_id
WITH DATA;

CREATE UNIQUE INDEX weekly_task_throughput_pk ON weekly_task_throughput (id);
CREATE INDEX weekly_task_throughput_week_idx ON weekly_task_throughput (week, project_id);
