"""The `archive` schema: archive.workflows_workflow, archive.tasks_task,
archive.tasks_taskdependency (LIKE the live tables + archived_at). Columns the live tables gain
later are added by services.archive_schema_sync() at the start of each archive run."""

from django.db import migrations

from apps.ops.sqlfiles import read_sql


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0002_matviews"),
        ("workflows", "0002_workflow_tasks_done_workflow_tasks_total_and_more"),
        ("tasks", "0002_task_set_updated_at_task_task_status_transition_and_more"),
    ]

    operations = [
        migrations.RunSQL(
            sql=read_sql("archive_schema.v1.sql"),
            # The schema is shared (apps.events detaches old partitions into it): drop only ours.
            reverse_sql=[
                "DROP TABLE IF EXISTS archive.tasks_taskdependency, archive.tasks_task,"
                " archive.workflows_workflow",
                "DO $$ BEGIN DROP SCHEMA IF EXISTS archive;"
                " EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$",
            ],
        )
    ]
