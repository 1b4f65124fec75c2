-- Seed 001: per form schema and UTC day, over the last 30 days: submissions, completed
-- (data->>'status' = 'complete'), mean completion time (data->>'completion_time', seconds;
-- non-numeric values are ignored instead of failing the refresh).
CREATE MATERIALIZED VIEW form_completion_stats AS
SELECT
    (fr.form_schema_id::text || ':' || (fr.submitted_at AT TIME ZONE 'UTC')::date::text)::varchar(64)
        AS id,
    fr.form_schema_id,
    fs.name AS form_name,
    fs.version AS form_version,
    (fr.submitted_at AT TIME ZONE 'UTC')::date AS day,
    count(*)::int AS submissions,
    (count(*) FILTER (WHERE fr.data ->> 'status' = 'complete'))::int AS completed,
    round(avg(CASE WHEN fr.data ->> 'completion_time' ~ '^[0-9]+(\.[0-9]+)?$'
                   THEN (fr.data ->> 'completion_time')::numeric END), 2)::numeric(14, 2)
        AS avg_completion_time
FROM runs_formresponse fr
JOIN runs_formschema fs ON fs.id = fr.form_schema_id
WHERE fr.submitted_at >= ((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC'
GROUP BY fr.form_schema_id, fs.name, fs.version, (fr.submitted_at AT TIME ZONE 'UTC')::date
WITH DATA;

CREATE UNIQUE INDEX form_completion_stats_pk ON form_completion_stats (id);
CREATE INDEX form_completion_stats_schema_day_idx ON form_completion_stats (form_schema_id, day);
