"""Materialized views (SQL in apps/ops/sql/<view>.v1.sql), each with a plain unique index so
REFRESH … CONCURRENTLY works. Created WITH DATA: readable as soon as the migration is done."""

from django.db import migrations

from apps.ops.sqlfiles import read_sql

VIEWS = [
    "workflow_summary",
    "weekly_task_throughput",
    "template_effectiveness",
    "workflow_extraction_summary",
]


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_initial"),
        ("projects", "0002_project_set_updated_at"),
        ("workflows", "0002_workflow_tasks_done_workflow_tasks_total_and_more"),
        ("tasks", "0002_task_set_updated_at_task_task_status_transition_and_more"),
        ("blueprints", "0002_template_set_updated_at"),
    ]

    operations = [
        migrations.RunSQL(
            sql=read_sql(f"{view}.v1.sql"),
            reverse_sql=f"DROP MATERIALIZED VIEW IF EXISTS {view}",
        )
        for view in VIEWS
    ]
