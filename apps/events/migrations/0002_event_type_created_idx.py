"""The events list's exact search (type, correlation id or trace id) through indexes on every
arm of its OR, built without blocking writes: ON ONLY the parent, concurrently per partition."""

from django.db import migrations, models

from apps.safe_migrations.operations import AddPartitionedIndex


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("events", "0001_initial")]

    operations = [
        AddPartitionedIndex(
            model_name="event",
            index=models.Index(fields=["event_type", "-created_at"], name="event_type_created_idx"),
        ),
    ]
