"""Indexes for the task list's sorts by priority and by last update (bench/admin.py: 80 ms
sorts of the whole table at 100k tasks become 50-row index scans), built without blocking writes."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tasks", "0006_dependency_graph_and_subtask_rules")]

    operations = [
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(fields=["priority", "id"], name="task_priority_id_idx"),
        ),
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(fields=["updated_at", "id"], name="task_updated_id_idx"),
        ),
    ]
