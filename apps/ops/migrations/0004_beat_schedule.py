"""Install the default beat schedule (apps/ops/schedule.py) into django-celery-beat's tables.
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
        ("ops", "0003_archive_schema"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
