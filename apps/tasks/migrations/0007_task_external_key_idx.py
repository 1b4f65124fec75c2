from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CONCURRENTLY: writes to the task table go on while the index builds.
    atomic = False

    dependencies = [
        ("tasks", "0006_dependency_graph_and_subtask_rules"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(fields=["external_key"], name="task_external_key_idx"),
        ),
    ]
