-- Per template: usage, outcomes, success rate (share of recorded outcomes), rank by usage within
-- its type, last use.
CREATE MATERIALIZED VIEW template_effectiveness AS
SELECT
    t.id AS template_id,
    t.name,
    t.type,
    t.category,
    t.version,
    t.is_active,
    t.usage_count::int AS usage_count,
    t.success_count::int AS success_count,
    t.failure_count::int AS failure_count,
    round(100.0 * t.success_count / NULLIF(t.success_count + t.failure_count, 0), 2)::numeric(5, 2)
        AS success_rate,
    (rank() OVER (PARTITION BY t.type ORDER BY t.usage_count DESC))::int AS usage_rank_in_type,
    t.last_used_at
FROM blueprints_template t
WITH DATA;

CREATE UNIQUE INDEX template_effectiveness_pk ON template_effectiveness (template_id);
