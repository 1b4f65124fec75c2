"""Safe migrations: no missing migration, the linter (on the project and on each rule), the
partitioned-index operation, and the lock timeout of every migrate session."""

from __future__ import annotations

import io
import time

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import NotSupportedError, connections, migrations, models
from django.db.migrations.state import ModelState, ProjectState
from django.db.models.functions import Now
from pglast import parse_sql

from apps.safe_migrations import ignores
from apps.safe_migrations.linter import RULES, Context, Linter, lint_all
from apps.safe_migrations.operations import AddPartitionedIndex, partition_index_name


# With a database router configured, makemigrations reads the history of every alias that
# may migrate: the owner's too.
@pytest.mark.django_db(databases=["default", "owner"])
def test_models_and_migrations_agree():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # SystemExit(1) if not
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_every_project_migration_passes_the_linter_or_is_ignored_with_a_reason():
    findings = lint_all()
    problems = [f.message for f in findings if not f.ignored]
    assert problems == []
    ignored = [f for f in findings if f.ignored]
    assert len(ignored) == sum(len(rules) for rules in ignores.IGNORED.values())
    assert all(len(f.ignored) > 40 for f in ignored)  # a real reason, not "ok"


# --- the rules, one statement at a time -----------------------------------------------------------

BIG = {"events_event"}  # partitioned (as the catalog would say)


def rules_of(sql: str, *, atomic: bool = True, new: tuple[str, ...] = ()) -> list[str]:
    linter = Linter(partitioned=set(BIG))
    ctx = Context(atomic=atomic, new_tables=set(new))
    found = []
    for raw in parse_sql(sql):
        found += [rule for rule, _ in linter.check_statement(raw.stmt, ctx)]
    return found


@pytest.mark.parametrize(
    "sql, expected",
    [
        ('CREATE INDEX "i" ON "tasks_task" ("title")', ["SM001"]),
        ('CREATE INDEX CONCURRENTLY "i" ON "tasks_task" ("title")', ["SM003"]),
        ('CREATE INDEX "i" ON "events_event" ("event_type")', ["SM002"]),
        ('CREATE INDEX CONCURRENTLY "i" ON "events_event" ("event_type")', ["SM003", "SM002"]),
        ('CREATE INDEX "i" ON ONLY "events_event" ("event_type")', []),
        (
            'ALTER TABLE "tasks_task" ADD COLUMN "u" uuid DEFAULT gen_random_uuid() NOT NULL',
            ["SM004"],
        ),
        ('ALTER TABLE "projects_project" ADD COLUMN "n" bigserial', ["SM004"]),
        (
            'ALTER TABLE "tasks_task" ADD COLUMN "g" int GENERATED ALWAYS AS (priority) STORED',
            ["SM004"],
        ),
        ('ALTER TABLE "tasks_task" ADD COLUMN "c" timestamptz DEFAULT now() NOT NULL', []),
        ('ALTER TABLE "tasks_task" ADD COLUMN "s" varchar(10) DEFAULT \'x\' NOT NULL', []),
        ('ALTER TABLE "tasks_task" ALTER COLUMN "assignee" SET NOT NULL', ["SM005"]),
        ('ALTER TABLE "tasks_task" ALTER COLUMN "priority" TYPE bigint', ["SM006"]),
        (
            'ALTER TABLE "tasks_task" ADD CONSTRAINT "f" FOREIGN KEY ("parent_id") REFERENCES "tasks_task" ("id")',
            ["SM007"],
        ),
        (
            'ALTER TABLE "tasks_task" ADD CONSTRAINT "f" FOREIGN KEY ("parent_id") REFERENCES "tasks_task" ("id") NOT VALID',
            [],
        ),
        ('ALTER TABLE "tasks_task" ADD CONSTRAINT "c" CHECK (priority >= 0)', ["SM008"]),
        ('ALTER TABLE "tasks_task" ADD CONSTRAINT "c" CHECK (priority >= 0) NOT VALID', []),
        ('ALTER TABLE "tasks_task" ADD CONSTRAINT "u" UNIQUE ("title")', ["SM009"]),
        ('ALTER TABLE "tasks_task" ADD CONSTRAINT "u" UNIQUE USING INDEX "i"', []),
        ("VACUUM FULL tasks_task", ["SM010"]),
        ("LOCK TABLE tasks_task IN ACCESS EXCLUSIVE MODE", ["SM010"]),
        ("REFRESH MATERIALIZED VIEW workflow_summary", ["SM010"]),
        ("REFRESH MATERIALIZED VIEW CONCURRENTLY workflow_summary", []),
        ("REINDEX TABLE tasks_task", ["SM010"]),
        # Small tables are left alone; so is a table created earlier in the same migration.
        ('CREATE INDEX "i" ON "projects_project" ("name")', []),
        ('ALTER TABLE "projects_project" ALTER COLUMN "name" TYPE text', []),
    ],
)
def test_each_rule_flags_what_it_names(sql, expected):
    assert rules_of(sql) == expected


def test_a_table_created_in_the_same_migration_is_new():
    sql = (
        'CREATE TABLE "tasks_new" (id bigint); CREATE INDEX "i" ON "tasks_new" (id);'
        ' ALTER TABLE "tasks_new" ALTER COLUMN id SET NOT NULL'
    )
    assert rules_of(sql) == []
    assert rules_of('CREATE INDEX CONCURRENTLY "i" ON "tasks_task" (id)', atomic=False) == []
    assert set(RULES) >= {"SM001", "SM010", "SM099"}


def _state_with(app_label: str, operation) -> list[str]:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connections["default"])
    state = loader.project_state()
    migration = migrations.Migration("0999_probe", app_label)
    migration.operations = [operation]
    findings, _ = Linter().lint_migration(migration, state)
    return [f.rule for f in findings]


@pytest.mark.django_db
def test_django_operations_are_linted_through_their_sql():
    assert _state_with(
        "tasks", migrations.AddIndex("task", models.Index(fields=["details"], name="t_d_idx"))
    ) == ["SM001"]
    assert _state_with(
        "events", migrations.AddIndex("event", models.Index(fields=["trace_id"], name="e_t_idx"))
    ) == ["SM002"]
    field = models.DateTimeField(db_default=Now())
    assert _state_with("tasks", migrations.AddField("task", "seen_at", field)) == []
    field = models.UUIDField(db_default=models.Func(function="gen_random_uuid"))
    assert _state_with("tasks", migrations.AddField("task", "token", field)) == ["SM004"]
    field = models.CharField(max_length=10)
    assert _state_with("tasks", migrations.AlterField("task", "assignee", field)) == ["SM006"]


@pytest.mark.django_db
def test_the_partitioned_index_operation_lints_clean():
    op = AddPartitionedIndex("event", models.Index(fields=["trace_id"], name="e_t_idx"))
    migration = migrations.Migration("0999_probe", "events")
    migration.operations = [op]
    migration.atomic = False
    from django.db.migrations.loader import MigrationLoader

    state = MigrationLoader(connections["default"]).project_state()
    findings, _ = Linter().lint_migration(migration, state)
    assert findings == []


# --- AddPartitionedIndex on a real partitioned table ----------------------------------------------

SCRATCH = "sm_scratch"


def _scratch_state() -> ProjectState:
    state = ProjectState()
    state.add_model(
        ModelState(
            "safe_migrations",
            "scratch",
            [
                ("id", models.BigIntegerField(primary_key=True)),
                ("created_at", models.DateTimeField()),
                ("v", models.IntegerField()),
            ],
            options={"db_table": SCRATCH},
        )
    )
    return state


def _index_state(conn, name: str):
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s",
            [name],
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass(%s)", [f'"{name}"']
        )
        return (row[0] if row else None), cursor.fetchone()[0]


@pytest.mark.django_db(databases=["default", "owner"])
def test_partitioned_index_is_built_per_partition_attached_and_retry_safe():
    conn = connections.create_connection("owner")  # autocommit: CONCURRENTLY needs it
    op = AddPartitionedIndex("scratch", models.Index(fields=["v"], name="sm_scratch_v_idx"))
    before = _scratch_state()
    after = before.clone()
    op.state_forwards("safe_migrations", after)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
            cursor.execute(
                f"CREATE TABLE {SCRATCH} (id bigint, created_at timestamptz, v int)"
                " PARTITION BY RANGE (created_at)"
            )
            cursor.execute(
                f"CREATE TABLE {SCRATCH}_a PARTITION OF {SCRATCH} FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')"
            )
            cursor.execute(
                f"CREATE TABLE {SCRATCH}_b PARTITION OF {SCRATCH} FOR VALUES FROM ('2021-01-01') TO ('2022-01-01')"
            )
            cursor.execute(f"CREATE TABLE {SCRATCH}_d PARTITION OF {SCRATCH} DEFAULT")
            cursor.execute(
                f"INSERT INTO {SCRATCH} SELECT g, '2020-06-01'::timestamptz + (g % 400) * interval '1 day', g % 3"
                " FROM generate_series(1, 600) g"
            )
            # A failed concurrent build left an INVALID index under the name the operation uses.
            stale = partition_index_name(f"{SCRATCH}_a", "sm_scratch_v_idx")
            with pytest.raises(Exception, match="could not create unique index"):
                cursor.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{stale}" ON {SCRATCH}_a (v)')
        assert _index_state(conn, stale) == (False, 0)

        refused = pytest.raises(NotSupportedError, match="atomic = False")
        with refused, conn.schema_editor(atomic=True) as editor:
            op.database_forwards("safe_migrations", editor, before, after)

        with conn.schema_editor(atomic=False) as editor:
            op.database_forwards("safe_migrations", editor, before, after)
        assert _index_state(conn, "sm_scratch_v_idx") == (True, 3)
        assert _index_state(conn, stale)[0] is True  # rebuilt
        with conn.schema_editor(atomic=False) as editor:  # idempotent
            op.database_forwards("safe_migrations", editor, before, after)
        assert _index_state(conn, "sm_scratch_v_idx") == (True, 3)
        # A partition created later gets its copy from PostgreSQL itself.
        with conn.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {SCRATCH}_c PARTITION OF {SCRATCH} FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')"
            )
        assert _index_state(conn, "sm_scratch_v_idx") == (True, 4)
        with conn.schema_editor(atomic=False) as editor:
            op.database_backwards("safe_migrations", editor, after, before)
        assert _index_state(conn, "sm_scratch_v_idx") == (None, 0)
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}")
        conn.close()


# --- lock_timeout on every migrate session ---------------------------------------------------------


def _holder():
    settings_dict = connections["owner"].settings_dict
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=False,
    )


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_migration_behind_a_held_lock_fails_fast_with_a_clear_message(settings):
    settings.MIGRATION_LOCK_TIMEOUT = "1s"
    call_command("migrate", "audit", "0001", database="owner", verbosity=0)
    holder = _holder()
    try:
        # A writer's transaction that stays open: ROW EXCLUSIVE on the audit log.
        holder.execute("LOCK TABLE audit_auditevent IN ROW EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(CommandError) as error:
            call_command("migrate", "audit", "0002", database="owner", verbosity=0)
        waited = time.monotonic() - started
        message = str(error.value)
        assert "audit.0002_auditevent_actor_idx" in message
        assert "waited 1s (MIGRATION_LOCK_TIMEOUT)" in message and "run migrate again" in message
        assert waited < 10
    finally:
        holder.rollback()
        holder.close()
        connections["owner"].close()
    call_command("migrate", "audit", database="owner", verbosity=0)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = 'auditevent_actor_idx'"
        )
        assert cursor.fetchone() == (True,)
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("1s",)  # the session migrate ran in
    for alias in ("owner", "default"):
        connections[alias].close()


def test_a_malformed_lock_timeout_is_refused(settings):
    from apps.safe_migrations.lock_timeout import migration_lock_timeout

    settings.MIGRATION_LOCK_TIMEOUT = "5 seconds; DROP TABLE x"
    with pytest.raises(ValueError, match="MIGRATION_LOCK_TIMEOUT"):
        migration_lock_timeout()


@pytest.mark.django_db(databases=["default", "owner"])
def test_a_data_migration_writes_on_the_migrating_connection_not_behind_its_lock():
    """workflows.0005 alters workflows_workflow, then moves data in it: through another
    connection that move would wait for the migration's own lock for ever."""
    import importlib
    from types import SimpleNamespace

    from django.db.migrations.loader import MigrationLoader

    name = "0005_filestore_external_key_legacy"
    module = importlib.import_module(f"apps.workflows.migrations.{name}")
    historical = MigrationLoader(connections["owner"]).project_state(("workflows", name)).apps
    from apps.projects.models import Project
    from apps.workflows.models import Workflow

    project = Project.objects.using("owner").create(name="P", slug="p")
    wf = Workflow.objects.using("owner").create(
        project=project, name="W", metrics={"filestore": {"shape": "tagged"}, "n": 1}
    )
    with connections["default"].cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '2s'")  # fail, not hang, if it goes there
    with connections["owner"].cursor() as cursor:
        cursor.execute("LOCK TABLE workflows_workflow IN ACCESS EXCLUSIVE MODE")
    module.move_filestore_metadata(historical, SimpleNamespace(connection=connections["owner"]))
    wf.refresh_from_db(using="owner")
    assert wf.metrics == {"n": 1}
    assert wf.legacy == {"source": "taskmaster", "shape": "tagged"}
