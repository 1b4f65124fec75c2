"""An index on the audit log's actor, built without blocking writes: the log is partitioned,
so ON ONLY the parent, then concurrently per partition, then attached (AddPartitionedIndex)."""

from django.db import migrations, models

from apps.safe_migrations.operations import AddPartitionedIndex


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0001_initial")]

    operations = [
        AddPartitionedIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("actor_id__isnull", False)),
                fields=["actor_id", "-created_at"],
                name="auditevent_actor_idx",
            ),
        ),
    ]
