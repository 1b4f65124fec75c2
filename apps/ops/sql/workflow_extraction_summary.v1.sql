-- Per project (seed 000's extraction summary): workflows with/without an n8n-style definition,
-- node-count statistics over workflows that have one, last import (creation) and last update.
CREATE MATERIALIZED VIEW workflow_extraction_summary AS
SELECT
    p.id AS project_id,
    p.name AS project_name,
    count(w.id)::int AS workflows_total,
    (count(w.id) FILTER (WHERE w.definition ? 'nodes'))::int AS workflows_with_definition,
    (count(w.id) FILTER (WHERE NOT (w.definition ? 'nodes')))::int AS workflows_without_definition,
    (min(w.node_count) FILTER (WHERE w.definition ? 'nodes'))::int AS node_count_min,
    round(avg(w.node_count) FILTER (WHERE w.definition ? 'nodes'), 2)::numeric(12, 2) AS node_count_avg,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY w.node_count)
        FILTER (WHERE w.definition ? 'nodes') AS node_count_p50,
    (max(w.node_count) FILTER (WHERE w.definition ? 'nodes'))::int AS node_count_max,
    max(w.created_at) AS last_import_at,
    max(w.updated_at) AS last_update_at
FROM projects_project p
LEFT JOIN workflows_workflow w ON w.project_id = p.id
GROUP BY p.id
WITH DATA;

CREATE UNIQUE INDEX workflow_extraction_summary_pk ON workflow_extraction_summary (project_id);
