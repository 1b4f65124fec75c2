-- Per workflow: tasks by status, progress (done / non-cancelled), mean and p90 task duration
-- (created_at -> completed_at of completed tasks), last task activity.
CREATE MATERIALIZED VIEW workflow_summary AS
SELECT
    w.id AS workflow_id,
    w.project_id,
    p.name AS project_name,
    w.name AS workflow_name,
    w.status,
    count(t.id)::int AS tasks_total,
    (count(t.id) FILTER (WHERE t.status = 'pending'))::int AS tasks_pending,
    (count(t.id) FILTER (WHERE t.status = 'in_progress'))::int AS tasks_in_progress,
    (count(t.id) FILTER (WHERE t.status = 'review'))::int AS tasks_review,
    (count(t.id) FILTER (WHERE t.status = 'done'))::int AS tasks_done,
    (count(t.id) FILTER (WHERE t.status = 'deferred'))::int AS tasks_deferred,
    (count(t.id) FILTER (WHERE t.status = 'cancelled'))::int AS tasks_cancelled,
    (count(t.id) FILTER (WHERE t.status = 'blocked'))::int AS tasks_blocked,
    COALESCE(round(100.0 * count(t.id) FILTER (WHERE t.status = 'done')
        / NULLIF(count(t.id) FILTER (WHERE t.status <> 'cancelled'), 0), 2), 0)::numeric(5, 2) AS progress,
    avg(t.completed_at - t.created_at) FILTER (WHERE t.completed_at IS NOT NULL) AS mean_duration,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY t.completed_at - t.created_at)
        FILTER (WHERE t.completed_at IS NOT NULL) AS p90_duration,
    max(t.updated_at) AS last_activity_at
FROM workflows_workflow w
JOIN projects_project p ON p.id = w.project_id
LEFT JOIN tasks_task t ON t.workflow_id = w.id
GROUP BY w.id, p.name
WITH DATA;

CREATE UNIQUE INDEX workflow_summary_pk ON workflow_summary (workflow_id);
CREATE INDEX workflow_summary_project_idx ON workflow_summary (project_id, status);
