from django.db import migrations, models


class Migration(migrations.Migration):
    # CONCURRENTLY: writes to the task table go on while the index builds; IF NOT EXISTS makes
    # a re-run after an interrupted build a no-op (an INVALID leftover is dropped by hand).
    atomic = False

    dependencies = [
        ("tasks", "0007_task_admin_sort_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS task_external_key_idx "
                    "ON tasks_task (external_key)",
                    reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS task_external_key_idx",
                ),
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="task",
                    index=models.Index(fields=["external_key"], name="task_external_key_idx"),
                ),
            ],
        ),
    ]
