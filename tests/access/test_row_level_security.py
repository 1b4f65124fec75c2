"""The database fence: under a scoped transaction, the ORM with no scoping of its own sees and
writes only the scoped projects' rows; nothing set means nothing seen."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from apps.access import policies
from apps.events.models import EventRow
from apps.knowledge.models import Article
from apps.pg import rowscope
from apps.pg.rowscope import NO_ROWS, RowScope
from apps.pg.sql import quote
from apps.projects.models import Project
from apps.runs.models import NodeExecutionRow, WorkflowRunRow
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow
from tests.db import conninfo
from tests.factories.domain import (
    ArticleFactory,
    ProjectFactory,
    TaskDependencyFactory,
    TaskFactory,
    WorkflowFactory,
)
from tests.factories.events import EventFactory
from tests.factories.runs import NodeExecutionFactory, WorkflowRunFactory

pytestmark = pytest.mark.django_db


def _world(name: str) -> dict:
    project = ProjectFactory(name=name)
    workflow = WorkflowFactory(project=project)
    a, b = TaskFactory(workflow=workflow), TaskFactory(workflow=workflow)
    dependency = TaskDependencyFactory(task=a, depends_on=b)
    run = WorkflowRunFactory(workflow=workflow)
    NodeExecutionFactory(run=run)
    EventFactory(project=project)
    EventFactory(workflow=workflow)  # bound through its workflow only
    article = ArticleFactory(project=project)
    return {
        "project": project,
        "workflow": workflow,
        "task": a,
        "dependency": dependency,
        "run": run,
        "article": article,
    }


@pytest.fixture
def two_projects():
    return _world("Ours"), _world("Theirs")


def _foreign_rows(theirs: dict) -> dict[str, int]:
    """Rows of the other project, read with no filter but the one a bug would forget."""
    return {
        "project": Project.objects.filter(pk=theirs["project"].pk).count(),
        "workflow": Workflow.objects.filter(project_id=theirs["project"].pk).count(),
        "task": Task.objects.filter(workflow__project_id=theirs["project"].pk).count(),
        "dependency": TaskDependency.objects.filter(pk=theirs["dependency"].pk).count(),
        "run": WorkflowRunRow.objects.filter(workflow_id=theirs["workflow"].pk).count(),
        "node": NodeExecutionRow.objects.filter(run_id=theirs["run"].id).count(),
        "event": EventRow.objects.filter(project_id=theirs["project"].pk).count()
        + EventRow.objects.filter(workflow_id=theirs["workflow"].pk).count(),
        "article": Article.objects.filter(project_id=theirs["project"].pk).count(),
    }


def test_a_scoped_transaction_sees_no_row_of_another_project_even_unfiltered(two_projects):
    ours, theirs = two_projects
    assert all(_foreign_rows(theirs).values())  # the rows exist (unscoped test context)
    with rowscope.bound(RowScope.of([ours["project"].pk])):
        assert _foreign_rows(theirs) == dict.fromkeys(_foreign_rows(theirs), 0)
        assert _foreign_rows(ours) == {
            "project": 1,
            "workflow": 1,
            "task": 2,
            "dependency": 1,
            "run": 1,
            "node": 1,
            "event": 2,
            "article": 1,
        }
        # The whole tables, not only the other project's ids: nothing else leaks either.
        assert set(Task.objects.values_list("workflow__project_id", flat=True)) == {
            ours["project"].pk
        }


def test_no_scope_means_no_rows(two_projects):
    with rowscope.bound(NO_ROWS):
        assert Project.objects.count() == 0
        assert Task.objects.count() == 0
        assert EventRow.objects.count() == 0


def test_articles_of_no_project_are_read_by_every_member_but_written_by_none(two_projects):
    ours, _ = two_projects
    shared = ArticleFactory(project=None)
    with rowscope.bound(RowScope.of([ours["project"].pk])):
        assert Article.objects.filter(pk=shared.pk).exists()
        assert Article.objects.filter(pk=shared.pk).update(title="rewritten") == 0


def test_writes_to_another_project_are_refused_by_the_database(two_projects):
    ours, theirs = two_projects
    with rowscope.bound(RowScope.of([ours["project"].pk])):
        # Update and delete of rows it cannot see touch nothing.
        assert Task.objects.filter(pk=theirs["task"].pk).update(title="hijacked") == 0
        assert Workflow.objects.filter(pk=theirs["workflow"].pk).delete()[0] == 0
        # An insert into the other project's workflow violates the policy's WITH CHECK.
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Task.objects.create(workflow_id=theirs["workflow"].pk, title="planted")
        # Moving one of ours into their project, too.
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Workflow.objects.filter(pk=ours["workflow"].pk).update(project_id=theirs["project"].pk)
    theirs["task"].refresh_from_db()
    assert theirs["task"].title != "hijacked"


def test_partitions_read_directly_show_a_scoped_session_nothing(two_projects):
    ours, _ = two_projects
    partition = EventRow.objects.filter(project_id=ours["project"].pk).first()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM events_event WHERE id = %s", [partition.id]
        )
        [name] = cursor.fetchone()
        with rowscope.bound(RowScope.of([ours["project"].pk])):
            cursor.execute("SELECT count(*) FROM events_event WHERE id = %s", [partition.id])
            assert cursor.fetchone() == (1,)  # through the parent: its policies
            cursor.execute(f"SELECT count(*) FROM {name} WHERE id = %s", [partition.id])
            assert cursor.fetchone() == (0,)  # directly: RLS with no policy
        cursor.execute(f"SELECT count(*) FROM {name} WHERE id = %s", [partition.id])
        assert cursor.fetchone() == (1,)  # the unscoped role bypasses both


@pytest.mark.django_db(transaction=True)
def test_an_app_session_that_sets_nothing_sees_nothing():
    """Fail closed: a session of the app's login that never enters a scope (a script, a
    forgotten wrapper) reads no project-bound row and cannot write one."""
    _world("Committed")
    with psycopg.connect(conninfo(), autocommit=True) as raw:
        for table in policies.scoped_tables():
            assert raw.execute(f"SELECT count(*) FROM {quote(table)}").fetchone() == (0,), table
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute(
                "INSERT INTO projects_project (name, slug, description, repository_url,"
                " linear_team_id, settings, status, created_at, updated_at) VALUES"
                " ('x', 'x', '', '', '', '{}', 'active', now(), now())"
            )


@pytest.mark.django_db(transaction=True)
def test_the_scope_never_outlives_its_transaction():
    """SET LOCAL only: a pooled server connection carries nothing into the next transaction."""
    with rowscope.bound(RowScope.of([7, 8])), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('flowbase.project_ids', true), current_user")
        assert cursor.fetchone()[0] == "{7,8}"
    raw = connection.connection
    assert raw.execute(
        "SELECT coalesce(current_setting('flowbase.project_ids', true), ''), current_user"
    ).fetchone() == ("", connection.settings_dict["USER"])


def test_every_declared_policy_is_in_place():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity FROM pg_class c"
            " WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace",
            [policies.scoped_tables()],
        )
        found = dict(cursor.fetchall())
        cursor.execute(
            "SELECT tablename, count(*) FROM pg_policies WHERE policyname LIKE 'flowbase\\_%%'"
            " GROUP BY 1"
        )
        counts = dict(cursor.fetchall())
    assert found == dict.fromkeys(policies.scoped_tables(), True)
    assert all(counts.get(table, 0) >= 2 for table in policies.scoped_tables())


def test_a_viewer_scope_reads_but_the_database_refuses_its_writes(two_projects):
    ours, _ = two_projects
    pid = ours["project"].pk
    with rowscope.bound(RowScope.of([pid], writes=[])):
        assert Task.objects.filter(pk=ours["task"].pk).exists()
        assert Task.objects.filter(pk=ours["task"].pk).update(title="by a viewer") == 0
        assert Task.objects.filter(pk=ours["task"].pk).delete()[0] == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Task.objects.create(workflow_id=ours["workflow"].pk, title="by a viewer")
    with rowscope.bound(RowScope.of([pid], deletes=[])):  # an editor: changes, never deletes
        assert Task.objects.filter(pk=ours["task"].pk).update(title="by an editor") == 1
        assert TaskDependency.objects.filter(pk=ours["dependency"].pk).delete()[0] == 0


def test_no_reference_may_point_into_another_project(two_projects):
    """The integrity triggers run in the caller's scope and cannot see other projects' rows:
    the policies check every reference of a written row themselves."""
    ours, theirs = two_projects
    with rowscope.bound(RowScope.of([ours["project"].pk])):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Task.objects.filter(pk=ours["task"].pk).update(parent_id=theirs["task"].pk)
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            TaskDependency.objects.create(task=ours["task"], depends_on_id=theirs["task"].pk)
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            EventFactory(workflow=ours["workflow"], project=theirs["project"])  # forged stream
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            EventFactory(project=None, workflow=None)  # an event of no project: unscoped only
        EventFactory(project=ours["project"], workflow=ours["workflow"], task=ours["task"])


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_the_check_catches_row_level_security_switched_off_or_bypassed():
    from django.db import connections

    from apps.access.checks import rls_problems

    assert rls_problems() == []
    owner = connections["owner"]
    partition = EventRow.objects.none().model._meta.db_table
    with transaction.atomic(using="owner"), owner.cursor() as cursor:
        cursor.execute("ALTER TABLE tasks_task DISABLE ROW LEVEL SECURITY")
        cursor.execute("DROP POLICY flowbase_delete ON workflows_workflow")
        cursor.execute(
            "SELECT relid::regclass::text FROM pg_partition_tree(%s::regclass) WHERE isleaf LIMIT 1",
            [partition],
        )
        [leaf] = cursor.fetchone()
        cursor.execute(f"ALTER TABLE {leaf} DISABLE ROW LEVEL SECURITY")
        found = rls_problems(using="owner")
        transaction.set_rollback(True, using="owner")
    assert "row-level security is off on tasks_task" in found
    assert "workflows_workflow lacks the policies flowbase_delete" in found
    assert any(p.startswith("partitions of events_event readable directly") for p in found)


@pytest.mark.django_db(transaction=True)
def test_a_session_level_actor_left_by_another_client_never_reaches_the_audit_log():
    """Behind PgBouncer a server connection may carry another client's session settings: the
    actor and request id are sent with every transaction's scope, so they win."""
    from apps.audit.models import AuditEventRow

    connection.ensure_connection()
    connection.connection.execute(
        "SELECT set_config('flowbase.user_id', '424242', false),"
        " set_config('flowbase.request_id', 'leaked', false)"
    )
    project = ProjectFactory(name="Audited")
    row = AuditEventRow.objects.filter(table_name="projects_project", row_pk=str(project.pk)).get()
    assert row.actor_id is None and row.request_id in ("", None)


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
@pytest.mark.parametrize("scope", [RowScope.of([7]), rowscope.EVERY_ROW], ids=["one", "every"])
def test_copy_on_a_login_outside_the_row_scope_sends_no_scope(scope):
    """COPY goes around the execute wrapper; on a login that may not enter the bypass role (the
    owner, which the policies do not bind anyway) it must not try to switch roles."""
    from django.db import connections

    from apps.pg.bulk import copy_rows

    owner = connections["owner"]
    with (
        rowscope.bound(scope),
        transaction.atomic(using="owner"),
        owner.cursor() as cursor,
    ):
        cursor.execute("CREATE TEMP TABLE copy_probe (n int) ON COMMIT DROP")
        rows = [(1,), (2,)]
        assert copy_rows(cursor, "COPY copy_probe (n) FROM STDIN", rows, using="owner") == 2
        cursor.execute(
            "SELECT count(*), current_user,"
            " coalesce(current_setting('flowbase.project_ids', true), '') FROM copy_probe"
        )
        assert cursor.fetchone() == (2, owner.settings_dict["USER"], "")
