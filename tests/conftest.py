import importlib

import pytest
from django.core.management import call_command

# Data migrations that ship rows (operators group, default checks, beat schedule). A
# `transaction=True` test ends with a TRUNCATE that removes them, so they are put back before
# the next database test that finds them missing.
SHIPPED_ROWS = [
    ("apps.dbhealth.migrations.0002_operators_group_and_default_checks", "forwards"),
    ("apps.ops.migrations.0006_beat_schedule_dbhealth", "install"),
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Partitions relative to now (the migrations create only the default partitions)."""
    with django_db_blocker.unblock():
        call_command("pgpartition", "--yes", "--skip-delete", verbosity=0)


def _shipped_rows_present() -> bool:
    from django.contrib.auth.models import Group
    from django_celery_beat.models import PeriodicTask

    return (
        Group.objects.filter(name="Database operators").exists() and PeriodicTask.objects.exists()
    )


def restore_shipped_rows() -> None:
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    historical_apps = MigrationLoader(connection).project_state().apps
    for module_name, function in SHIPPED_ROWS:
        getattr(importlib.import_module(module_name), function)(historical_apps, None)


def pytest_runtest_setup(item):
    """Before a database test (outside its transaction, so it sticks), put back shipped rows
    that a previous `transaction=True` test truncated."""
    if item.get_closest_marker("django_db") is None and "live_server" not in item.fixturenames:
        return
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    if not connection.settings_dict["NAME"].startswith("test_"):
        return  # the test database is created by this test's set-up: migrations ship the rows
    with item.config.stash[blocking_manager_key].unblock():
        if not _shipped_rows_present():
            restore_shipped_rows()
