"""Install the default beat schedule (apps/ops/schedule.py) into django-celery-beat's tables.
Idempotent; `manage.py beat_schedule_install` runs the same code later."""

from django.db import migrations

from apps.ops.schedule import install_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0003_archive_schema"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install_from_migration, migrations.RunPython.noop)]
