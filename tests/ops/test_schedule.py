"""The default beat schedule is installed by migrations and re-installed idempotently."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connections
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from apps.ops.schedule import DEFAULT_SCHEDULE
from dataplatform.celery import app as celery_app

pytestmark = pytest.mark.django_db(databases=["default", "owner"])

NAMES = {entry.name for entry in DEFAULT_SCHEDULE}


def test_migrate_installs_the_default_schedule():
    # Test flushes (TRUNCATE) may have emptied the table since the test database was built:
    # re-run the data migration itself, as `migrate` does on a fresh database.
    # The data migration writes through its own (the owner's) connection, so the test deletes
    # and reads there too: the app's connection would not see its uncommitted rows. (A plain
    # DELETE: django-celery-beat's delete signal would bump PeriodicTasks through the app's
    # connection, whose lock the migration's own bump would then wait for.)
    call_command("migrate", "ops", "0003", database="owner", verbosity=0)  # migrate: the owner
    with connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM django_celery_beat_periodictask")
    call_command("migrate", "ops", database="owner", verbosity=0)
    installed = {t.name: t for t in PeriodicTask.objects.using("owner").filter(name__in=NAMES)}
    celery_app.loader.import_default_modules()  # autodiscovery, as a worker does at start
    assert set(installed) == NAMES
    for entry in DEFAULT_SCHEDULE:
        task = installed[entry.name]
        assert task.task == entry.task
        assert task.task in celery_app.tasks  # the name points at a registered task
        assert task.enabled
        if entry.every is not None:
            assert task.interval.schedule.run_every == entry.every
        else:
            assert task.crontab.minute == entry.crontab["minute"]
            assert task.crontab.hour == entry.crontab["hour"]
    heartbeat = installed["ops: beat heartbeat"]
    assert (heartbeat.interval.every, heartbeat.interval.period) == (1, "minutes")
    assert heartbeat.expire_seconds == 50


def test_install_command_is_idempotent_and_keeps_staff_choices():
    call_command("beat_schedule_install", verbosity=0)
    intervals = IntervalSchedule.objects.count()
    PeriodicTask.objects.filter(name="ops: nightly maintenance").update(enabled=False)
    PeriodicTask.objects.filter(name="ops: beat heartbeat").update(task="wrong.name")
    before = PeriodicTasks.last_change()

    call_command("beat_schedule_install", verbosity=0)
    call_command("beat_schedule_install", verbosity=0)

    assert PeriodicTask.objects.filter(name__in=NAMES).count() == len(NAMES)
    assert IntervalSchedule.objects.count() == intervals
    assert not PeriodicTask.objects.get(name="ops: nightly maintenance").enabled
    assert PeriodicTask.objects.get(name="ops: beat heartbeat").task == (
        "apps.ops.tasks.beat_heartbeat_task"
    )
    assert PeriodicTasks.last_change() >= before
