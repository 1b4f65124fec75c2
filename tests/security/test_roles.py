"""The least-privilege roles on the real cluster: what the app, read-only and monitor logins
cannot do, that the partition job's partitions are the app's at once, and that the drift check
catches every kind of drift it claims to."""

from __future__ import annotations

from datetime import UTC

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from apps.core.roles import config, inspect
from apps.core.roles.config import roles
from apps.pg import rowscope
from tests.db import conninfo

pytestmark = pytest.mark.django_db(databases=["default", "owner", "readonly", "monitor"])


def _refused(sql: str, params=None, *, using: str = "default") -> str:
    """Run `sql` on `using` in a savepoint; the error message (the test fails if it succeeds)."""
    with (
        pytest.raises(DatabaseError) as exc,
        transaction.atomic(using=using),
        connections[using].cursor() as cursor,
    ):
        cursor.execute(sql, params)
    return str(exc.value)


def _month() -> str:
    return f"{timezone.now().astimezone(UTC):%Y%m}"


# --- the app role ------------------------------------------------------------------------------


def test_the_app_connects_as_the_app_role_and_is_no_superuser():
    # In a project-scoped transaction: an unscoped one has switched to the NOLOGIN bypass role.
    with rowscope.bound(rowscope.NO_ROWS), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (roles().app, False, False, False, False)


def test_an_unscoped_transaction_bypasses_rls_only_through_a_role_that_cannot_log_in():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT session_user, current_user, rolcanlogin, rolbypassrls, rolsuper"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (roles().app, roles().all_projects, False, True, False)


APP_REFUSED = {
    "create_table": ("CREATE TABLE sec_probe (id int)", "permission denied for schema public"),
    "create_schema": ("CREATE SCHEMA sec_probe", "permission denied for database"),
    "alter_table": ("ALTER TABLE tasks_task ADD COLUMN sec_probe int", "must be owner"),
    "drop_table": ("DROP TABLE tasks_task", "must be owner"),
    "truncate_audit": ("TRUNCATE audit_auditevent", "permission denied"),
    "delete_audit": ("DELETE FROM audit_auditevent", "permission denied"),
    "update_audit_partition": (
        "UPDATE audit_auditevent_p{month} SET row_pk = 'x'",
        "permission denied",
    ),
    "pg_read_file": ("SELECT pg_read_file('/etc/passwd')", "permission denied for function"),
    "pg_ls_dir": ("SELECT pg_ls_dir('.')", "permission denied for function"),
    "pg_stat_statements_reset": (
        "SELECT pg_stat_statements_reset()",
        "permission denied for function",
    ),
    "pg_reload_conf": ("SELECT pg_reload_conf()", "permission denied for function"),
    "set_role_owner": ("SET ROLE {owner}", "permission denied to set role"),
    "copy_to_program": ("COPY (SELECT 1) TO PROGRAM 'true'", "pg_execute_server_program"),
}


@pytest.mark.parametrize("name", sorted(APP_REFUSED))
def test_the_app_role_cannot(name):
    sql, message = APP_REFUSED[name]
    error = _refused(sql.format(month=_month(), owner=roles().owner))
    assert message in error, error


def test_the_app_role_cannot_terminate_another_roles_backend():
    with psycopg.connect(conninfo("monitor"), autocommit=True) as other:
        pid = other.info.backend_pid
        error = _refused("SELECT pg_terminate_backend(%s)", [pid])
        assert "permission denied to terminate process" in error or "must be a member" in error
        assert other.execute("SELECT 1").fetchone() == (1,)  # still alive


def test_the_signal_function_refuses_the_owners_backend():
    """The one audited path to pg_signal_backend: never the owner (migrations) or a superuser."""
    with psycopg.connect(conninfo("owner"), autocommit=True) as other:
        error = _refused(
            "SELECT public.flowbase_signal_backend(%s, 'terminate')", [other.info.backend_pid]
        )
        assert "protected role" in error
        assert other.execute("SELECT 1").fetchone() == (1,)


def test_the_signal_function_is_the_apps_alone():
    for alias in ("readonly", "monitor"):
        error = _refused(
            "SELECT public.flowbase_signal_backend(pg_backend_pid(), 'cancel')", using=alias
        )
        assert "permission denied for function" in error, alias


# --- the read-only and monitor roles --------------------------------------------------------


READONLY_REFUSED = [
    "auth_user",
    "auth_permission",
    "django_session",
    "django_admin_log",
    "django_celery_beat_periodictask",
    "pg_catalog.pg_authid",
    "audit_auditevent",
    "audit_auditevent_p{month}",
    "audit_auditevent_default",
]


@pytest.mark.parametrize("table", READONLY_REFUSED)
def test_the_read_only_role_cannot_read(table):
    error = _refused(f"SELECT * FROM {table.format(month=_month())} LIMIT 1", using="readonly")
    assert "permission denied" in error, error


def test_the_read_only_role_reads_domain_tables_and_views_only_read_only():
    with connections["readonly"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks_task")
        cursor.execute("SELECT count(*) FROM workflow_summary")
        cursor.execute("SHOW default_transaction_read_only")
        assert cursor.fetchone() == ("on",)
    error = _refused("DELETE FROM tasks_task", using="readonly")
    assert "read-only transaction" in error or "permission denied" in error


def test_the_read_only_role_sees_no_other_sessions_query_text():
    """pg_read_all_stats is the monitor's, not the sandbox's: literals in other sessions'
    queries (Django binds parameters client-side) stay hidden from a check's SQL."""
    with psycopg.connect(conninfo("default"), autocommit=True) as other:
        other.execute("SELECT 'sec-literal-' || 'probe'")
        with connections["readonly"].cursor() as cursor:
            cursor.execute(
                "SELECT query FROM pg_stat_activity WHERE pid = %s", [other.info.backend_pid]
            )
            assert cursor.fetchone()[0] == "<insufficient privilege>"
        with connections["monitor"].cursor() as cursor:
            cursor.execute(
                "SELECT query FROM pg_stat_activity WHERE pid = %s", [other.info.backend_pid]
            )
            assert "sec-literal-" in cursor.fetchone()[0]


def test_the_monitor_role_reads_statistics_but_no_table():
    with connections["monitor"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_statements")
    for table in ("tasks_task", "django_session", "audit_auditevent"):
        assert "permission denied" in _refused(f"SELECT 1 FROM {table} LIMIT 1", using="monitor")
    with connections["monitor"].cursor() as cursor:  # counted, not read
        cursor.execute(
            "SELECT public.flowbase_default_partition_rows('audit_auditevent_default'::regclass, 10)"
        )
        assert cursor.fetchone()[0] == 0


# --- partitions made by the job ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_partition_created_by_the_job_is_the_apps_at_once():
    from apps.events.models import Event
    from apps.pg import partitioning as partitions
    from apps.pg.partitioning import services as partition_services

    last = [p for p in partitions.partition_list("events_event") if not p.is_default][-1]
    audit = [p for p in partitions.partition_list("audit_auditevent") if not p.is_default][-1]
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'DROP TABLE "{last.name}"')
        cursor.execute(f'DROP TABLE "{audit.name}"')
    done = partition_services.partitions_create(apply=True)  # the beat job's code, as the owner
    assert {(a.partition, a.status) for a in done} >= {(last.name, "done"), (audit.name, "done")}
    with connection.cursor() as cursor:  # the app, directly on the new partitions
        cursor.execute(f'SELECT count(*) FROM "{last.name}"')
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s", [last.name])
        assert cursor.fetchone()[0] == roles().owner
    from tests.factories.events import EventFactory

    event = EventFactory(created_at=last.range_from)
    assert Event.objects.filter(pk=(event.created_at, event.id)).exists()
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{last.name}" SET event_type = event_type')
        cursor.execute(f'SELECT count(*) FROM "{audit.name}"')
    # ... but the audit log's new partition is append-only for the app, like its parent.
    assert "permission denied" in _refused(f'DELETE FROM "{audit.name}"')
    assert inspect.problems("default") == []


# --- the check --------------------------------------------------------------------------------


def test_db_roles_check_passes_on_the_test_database(capsys):
    call_command("db_roles", "--check")
    assert "no problems" in capsys.readouterr().out
    call_command("check", "--database", "default")  # the same, as a system check


def _ids(**kwargs) -> set[str]:
    return {p.id for p in inspect.problems("owner", app_login=False, **kwargs)}


DRIFTS = {
    # name: (SQL as the owner, problem id it must raise)
    "readonly_reads_auth_user": ("GRANT SELECT ON auth_user TO {readonly}", "flowbase.E110"),
    "readonly_reads_a_session_column": (
        "GRANT SELECT (session_key) ON django_session TO {readonly}",
        "flowbase.E110",
    ),
    "readonly_reads_an_audit_partition": (
        "GRANT SELECT ON audit_auditevent_p{month} TO {readonly}",
        "flowbase.E110",
    ),
    "app_may_create_in_public": ("GRANT CREATE ON SCHEMA public TO {app}", "flowbase.E103"),
    "app_lost_a_grant": ("REVOKE DELETE ON tasks_task FROM {app}", "flowbase.E121"),
    "app_may_rewrite_the_audit_log": (
        "GRANT UPDATE ON audit_auditevent TO {app}",
        "flowbase.E121",
    ),
    "readonly_gets_future_tables": (
        "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT ON TABLES TO {readonly}",
        "flowbase.E122",
    ),
    "public_may_signal": (
        "GRANT EXECUTE ON FUNCTION flowbase_default_partition_rows(regclass, bigint) TO PUBLIC",
        "flowbase.E132",
    ),
}


@pytest.mark.parametrize("name", sorted(DRIFTS))
def test_the_check_catches(name):
    sql, problem = DRIFTS[name]
    r = roles()
    assert problem not in _ids(app_role=r.app)
    with connections["owner"].cursor() as cursor:  # inside the owner's test transaction
        cursor.execute(sql.format(app=r.app, owner=r.owner, readonly=r.readonly, month=_month()))
    assert problem in _ids(app_role=r.app)


def test_the_check_flags_memberships_that_give_more_rights():
    """(Granting a role takes an admin, which the tests do not have: the monitor's own
    pg_monitor membership, allowed for it, is what any other login would be flagged for.)"""
    r = roles()
    with connections["monitor"].cursor() as cursor:
        [problem] = inspect._memberships(cursor, r.monitor, r, allowed=())
        assert problem.id == "flowbase.E105" and "pg_monitor" in problem.message
        assert inspect._memberships(cursor, r.app, r, allowed=()) == []
        assert inspect._memberships(cursor, r.readonly, r, allowed=()) == []


def test_the_check_fails_the_command_when_the_app_is_the_owner(settings):
    """DATABASE_URL pointing at the owner (or a superuser) is refused by the check."""
    problems = inspect.problems("owner", app_login=True)
    assert {"flowbase.E102", "flowbase.E103", "flowbase.E104"} <= {p.id for p in problems}
    with pytest.raises(CommandError, match="problem"):
        call_command("db_roles", "--check", "--database", "owner")


def test_migrate_refuses_to_run_as_the_app():
    with pytest.raises(CommandError, match="migrate must run as the owner role"):
        call_command("migrate", "--database", "default", verbosity=0)


def test_sensitive_patterns_cover_the_brief():
    for table in ("auth_user", "django_session", "audit_auditevent_p202601", "django_admin_log"):
        assert config.is_sensitive(table), table
    assert not config.readonly_may_read("dbhealth_dataqualitycheck", "r")
    assert config.readonly_may_read("tasks_task", "r")


def test_the_docker_init_script_is_the_generated_bootstrap():
    from pathlib import Path

    from apps.core.management.commands.db_roles import bootstrap_script

    path = Path(__file__).resolve().parents[2] / "docker" / "initdb" / "flowbase-roles.psql"
    assert path.read_text() == bootstrap_script(), (
        "regenerate: python manage.py db_roles --bootstrap-sql > docker/initdb/flowbase-roles.psql"
    )
