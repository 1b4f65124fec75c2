import contextlib
import importlib

import pytest
from django.conf import settings
from django.db import connections
from django.test import TransactionTestCase

# Data migrations that ship rows (operators group, default checks, beat schedule). A
# `transaction=True` test ends with a TRUNCATE that removes them, so they are put back before
# the next database test that finds them missing.
SHIPPED_ROWS = [
    ("apps.dbhealth.migrations.0002_operators_group_and_default_checks", "forwards"),
    ("apps.ops.schedule", "install_from_migration"),
    ("apps.backups.migrations.0002_beat_schedule", "install"),
]


# --- roles -------------------------------------------------------------------------------------
# One test database, one login per role: `default` is the app role while the tests run, but the
# test database is created (CREATEDB), migrated and flushed with the owner's credentials, as
# `make migrate` does with `migrate --database owner`. Django copies only NAME to aliases that
# share a database, so each alias keeps its own credentials.

_CREDENTIALS = ("USER", "PASSWORD")


@contextlib.contextmanager
def owner_credentials_on_default():
    """Run `default` with the owner's login (set-up, flush); back to the app's afterwards."""
    default, owner = connections["default"], connections["owner"]
    saved = {key: default.settings_dict[key] for key in _CREDENTIALS}
    default.close()
    default.settings_dict.update({key: owner.settings_dict[key] for key in _CREDENTIALS})
    try:
        yield
    finally:
        default.close()
        default.settings_dict.update(saved)


_APP_CREDENTIALS: dict[str, str] = {}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Before pytest-django creates and migrates the test database: as the owner."""
    default, owner = connections["default"].settings_dict, connections["owner"].settings_dict
    _APP_CREDENTIALS.update({key: default[key] for key in _CREDENTIALS})
    default.update({key: owner[key] for key in _CREDENTIALS})


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After creation and migration (as the owner): every alias on the test database, the grants
    of the roles, partitions relative to now (migrations create only the default partitions,
    and the partition job grants each new one); then the tests run as the app role."""
    from apps.core.roles import services as roles_services
    from apps.pg.partitioning import services as partition_services

    test_name = connections["default"].settings_dict["NAME"]
    for alias in connections:
        # pytest-django sets up only the aliases the collected tests name: never let another
        # alias reach the development database.
        if connections[alias].settings_dict["NAME"] != test_name:
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = test_name
    with django_db_blocker.unblock():
        partition_services.partitions_create(apply=True, using="owner")
        roles_services.grants_apply(using="owner")
        for alias in connections:
            connections[alias].close()
    connections["default"].close()
    app = connections["default"].settings_dict
    app.update(_APP_CREDENTIALS)
    direct = app["HOST"], app["PORT"]
    if settings.PGBOUNCER_ADDRESS:  # make test-pgbouncer: the app's login through PgBouncer
        app["HOST"], app["PORT"] = settings.PGBOUNCER_ADDRESS
    yield
    connections["default"].close()
    owner = connections["owner"].settings_dict
    app.update({key: owner[key] for key in _CREDENTIALS})  # pytest-django's teardown: as owner
    app["HOST"], app["PORT"] = direct


def _flush_as_owner(self):
    """TransactionTestCase's flush (TRUNCATE) is the owner's right, not the app's (TRUNCATE would
    bypass the audit log's append-only guard): once for the one test database, as the owner,
    whichever aliases the test used."""
    from django.core.management import call_command

    with owner_credentials_on_default():
        call_command(
            "flush",
            verbosity=0,
            interactive=False,
            database="default",
            reset_sequences=False,
            allow_cascade=self.available_apps is not None,
            inhibit_post_migrate=self.available_apps is not None,
        )


TransactionTestCase._fixture_teardown = _flush_as_owner


def _shipped_rows_present() -> bool:
    from django.contrib.auth.models import Group
    from django_celery_beat.models import PeriodicTask

    return (
        Group.objects.filter(name="Database operators").exists() and PeriodicTask.objects.exists()
    )


# Putting shipped rows back is test set-up, not a change anyone made: no audit rows (they would
# outlive the test and show up in the audit log's tests).
SHIPPED_ROWS_UNAUDITED = ("dbhealth.DataQualityCheck:audit_insert",)


def restore_shipped_rows() -> None:
    import pgtrigger
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    historical_apps = MigrationLoader(connection).project_state().apps
    # The data migrations write through their schema editor's alias, as under `migrate`.
    schema_editor = connection.schema_editor()
    with pgtrigger.ignore(*SHIPPED_ROWS_UNAUDITED):
        for module_name, function in SHIPPED_ROWS:
            getattr(importlib.import_module(module_name), function)(historical_apps, schema_editor)


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


# --- partition DDL in tests -----------------------------------------------------------------
# Partition DDL is the owner's, on its own connection, which cannot see a test transaction's rows
# (and would wait forever for that transaction's locks): such tests commit (transaction=True)
# and this fixture puts the partitions back as they were.


def _snapshot() -> tuple[dict[str, set[str]], set[str]]:
    from apps.pg import partitioning as partitions

    tables = {
        config.model._meta.db_table: {
            p.name for p in partitions.partition_list(config.model._meta.db_table, "owner")
        }
        for config in partitions.policy_list()
    }
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'archive' AND c.relkind IN ('r', 'p')"
        )
        archived = {row[0] for row in cursor.fetchall()}
    return tables, archived


@pytest.fixture
def restore_partitions(django_db_blocker):
    """Drop the partitions and archived tables a committed test added; re-create missing ones."""
    from apps.pg.partitioning import services as partition_services

    with django_db_blocker.unblock():
        tables, archived = _snapshot()
    yield
    with django_db_blocker.unblock():
        now_tables, now_archived = _snapshot()
        with connections["owner"].cursor() as cursor:
            for table, names in now_tables.items():
                for extra in sorted(names - tables[table]):
                    cursor.execute(f'DROP TABLE "{extra}"')
            for extra in sorted(now_archived - archived):
                cursor.execute(f'DROP TABLE archive."{extra}"')
        partition_services.partitions_create(apply=True, move_default_rows=True, using="owner")


# --- N+1 guard ------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def no_repeated_query_shapes(request):
    """Fail a test whose requests sent one query shape QUERY_REPEAT_THRESHOLD times or more
    (a query per row), unless it is marked allow_repeated_queries with the reason."""
    from apps.origins import repeats

    repeats.take()
    yield
    seen = repeats.take()
    if seen and request.node.get_closest_marker("allow_repeated_queries") is None:
        lines = [
            f"{where}: {times} times: {shape[:160]}"
            for where, rows in seen
            for shape, times in rows[:3]
        ]
        pytest.fail("N+1 query pattern:\n" + "\n".join(lines), pytrace=False)


def pytest_collection_modifyitems(config, items):
    """Under PgBouncer (make test-pgbouncer) skip the tests that need one server session."""
    if not getattr(settings, "PGBOUNCER_ADDRESS", None):
        return
    from tests.pg.pgbouncer import DIRECT_TESTS

    for item in items:
        marker = item.get_closest_marker("direct_db")
        reason = DIRECT_TESTS.get(item.nodeid.split("[")[0])
        if marker is not None:
            reason = marker.args[0] if marker.args else "needs a direct connection"
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"under PgBouncer: {reason}"))


# --- row scope --------------------------------------------------------------------------------
def pytest_configure(config):
    """The test process is a command: every project, unless a test binds a scope."""
    from apps.pg import rowscope

    rowscope.set_process_default(rowscope.EVERY_ROW)


@pytest.fixture(autouse=True)
def unscoped_between_tests():
    """Each test starts outside any request's row scope (a streamed response a test never read
    to its end leaves its request's scope behind, as it would until the next request)."""
    from apps.pg import rowscope

    rowscope.activate(None)
    yield
    rowscope.activate(None)
