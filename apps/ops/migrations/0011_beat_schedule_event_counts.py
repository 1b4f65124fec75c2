"""Install the schedule entry added since 0006 (the events chart's hourly counts roll-up) on
existing databases. Idempotent; `manage.py beat_schedule_install` runs the same code later."""

from django.db import migrations

from apps.ops.schedule import install_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0010_matview_refresh_verbose_name_plural"),
        ("events", "0003_event_hour_counts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install_from_migration, migrations.RunPython.noop)]
