"""Install the schedule entries added since 0004 (the DB-health jobs) on existing databases.
Idempotent; `manage.py beat_schedule_install` runs the same code later."""

from django.db import migrations
from django.utils import timezone


def install(apps, schema_editor):
    from apps.ops.schedule import install_schedule

    install_schedule(
        periodic_task=apps.get_model("django_celery_beat", "PeriodicTask"),
        interval_schedule=apps.get_model("django_celery_beat", "IntervalSchedule"),
        crontab_schedule=apps.get_model("django_celery_beat", "CrontabSchedule"),
        periodic_tasks=apps.get_model("django_celery_beat", "PeriodicTasks"),
        now=timezone.now(),
        using=schema_editor.connection.alias,  # `migrate --database owner`: not the app's alias
    )


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0005_events_runs_views"),
        ("dbhealth", "0002_operators_group_and_default_checks"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
