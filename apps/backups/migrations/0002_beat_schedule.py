"""Ship the backups' beat entries (apps/backups/schedule.py): created if missing, never reset."""

from django.db import migrations
from django.utils import timezone


def install(apps, schema_editor):
    from apps.backups.schedule import install_backup_schedule

    install_backup_schedule(
        periodic_task=apps.get_model("django_celery_beat", "PeriodicTask"),
        crontab_schedule=apps.get_model("django_celery_beat", "CrontabSchedule"),
        periodic_tasks=apps.get_model("django_celery_beat", "PeriodicTasks"),
        now=timezone.now(),
        using=schema_editor.connection.alias,  # `migrate --database owner`
    )


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
