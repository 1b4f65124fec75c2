"""Install the schedule entries added since 0004 (the DB-health jobs) on existing databases.
Idempotent; `manage.py beat_schedule_install` runs the same code later."""

from django.db import migrations

from apps.ops.schedule import install_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0005_events_runs_views"),
        ("dbhealth", "0002_operators_group_and_default_checks"),
    ]

    operations = [migrations.RunPython(install_from_migration, migrations.RunPython.noop)]
