"""Data migrations write through their schema editor's connection only.

`migrate --database owner` runs each migration in the owner's transaction, which holds the locks
of its DDL. A data migration that wrote through the default (app) alias would use a second
connection: it could not see the transaction's work and would wait for its locks forever (a fresh
`make migrate` hung so at workflows 0005). Here the owner's transaction holds ACCESS EXCLUSIVE
locks on every table the data migrations touch, as their DDL would, and the app's connection
gives up after a short lock_timeout: any write or read through it fails the test.
"""

import importlib

import pytest
from django.db import connections, transaction
from django.db.migrations.loader import MigrationLoader

pytestmark = pytest.mark.django_db(databases=["default", "owner"])

DATA_MIGRATIONS = [
    ("apps.dbhealth.migrations.0002_operators_group_and_default_checks", "forwards"),
    ("apps.dbhealth.migrations.0002_operators_group_and_default_checks", "backwards"),
    ("apps.dbhealth.migrations.0005_redact_stored_samples", "forwards"),
    # 0004, 0006, 0011 and dbhealth 0007 all run this one function
    ("apps.ops.migrations.0011_beat_schedule_event_counts", "install_from_migration"),
    ("apps.workflows.migrations.0005_filestore_external_key_legacy", "move_filestore_metadata"),
]
TOUCHED_TABLES = [
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "dbhealth_dataqualitycheck",
    "dbhealth_dataqualityresult",
    "dbhealth_finding",
    "django_celery_beat_periodictask",
    "django_celery_beat_intervalschedule",
    "django_celery_beat_crontabschedule",
    "django_celery_beat_periodictasks",
    "workflows_workflow",
]


class _Rollback(Exception):
    pass


@pytest.mark.parametrize(("module_name", "function"), DATA_MIGRATIONS)
def test_data_migration_uses_the_migrations_connection(module_name, function):
    owner = connections["owner"]
    with connections["default"].cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '2s'")
    historical_apps = MigrationLoader(owner).project_state().apps
    run = getattr(importlib.import_module(module_name), function)
    with pytest.raises(_Rollback), transaction.atomic(using="owner"):
        with owner.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            cursor.execute(f"LOCK TABLE {', '.join(TOUCHED_TABLES)} IN ACCESS EXCLUSIVE MODE")
        run(historical_apps, owner.schema_editor())
        raise _Rollback
