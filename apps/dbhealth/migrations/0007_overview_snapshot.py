"""The overview's periodic snapshots, and their beat entry on existing databases (the same
idempotent install as ops 0006 and `manage.py beat_schedule_install`)."""

from django.db import migrations, models

from apps.ops.schedule import install_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("dbhealth", "0006_finding_accept_and_matview_observation"),
        ("ops", "0006_beat_schedule_dbhealth"),
    ]

    operations = [
        migrations.CreateModel(
            name="OverviewSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("taken_at", models.DateTimeField(db_index=True)),
                ("size_bytes", models.BigIntegerField(blank=True, null=True)),
                ("heap_hit_ratio", models.FloatField(blank=True, null=True)),
                ("index_hit_ratio", models.FloatField(blank=True, null=True)),
                ("connections", models.IntegerField(blank=True, null=True)),
                ("max_connections", models.IntegerField(blank=True, null=True)),
                ("connection_utilisation", models.FloatField(blank=True, null=True)),
                ("redis_hits", models.BigIntegerField(blank=True, null=True)),
                ("redis_misses", models.BigIntegerField(blank=True, null=True)),
                ("request_queries_p50", models.FloatField(blank=True, null=True)),
                ("request_queries_p95", models.FloatField(blank=True, null=True)),
                ("request_samples", models.IntegerField(default=0)),
            ],
            options={
                "ordering": ["-taken_at"],
                "get_latest_by": "taken_at",
            },
        ),
        migrations.RunPython(install_from_migration, migrations.RunPython.noop),
    ]
