"""Schema drift: the real schema audits clean; planted drift (DDL in the owner's transaction,
rolled back with the test) is caught, each kind by its own item; a missing index's fix, taken
from `dbhealth --json`, recreates it."""

from __future__ import annotations

import io
import json

import pglast
import psycopg
import pytest
from django.core.management import call_command
from django.db import connections

from apps.dbhealth.checks import drift
from tests.db import conninfo

from .helpers import dbhealth_json

pytestmark = pytest.mark.django_db(databases=["default", "owner", "monitor"])


def schema_audit(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("schema_audit", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def planted(sql: str) -> dict[str, dict]:
    """Run `sql` as the owner inside the test's transaction; the audit through that connection."""
    with connections["owner"].cursor() as cursor:
        for statement in pglast.split(sql):
            cursor.execute(statement)
    return {f"{i['kind']}:{i['object']}": i for i in drift.audit(using="owner")}


def test_clean_schema_has_no_drift():
    items = drift.audit()
    assert items == [], "\n".join(f"{i['kind']} {i['object']}: {i['title']}" for i in items)
    assert schema_audit() == (0, "schema audit: no drift\n")
    code, out = schema_audit("--json")
    assert code == 0 and json.loads(out) == {"drift": [], "counts": {}, "clean": True}


@pytest.mark.parametrize(
    ("sql", "key"),
    [
        ("DROP INDEX task_external_key_idx", "drift.index_missing:tasks_task.task_external_key_idx"),
        ("DROP INDEX tasks_task_parent_id_ee6a2001", "drift.index_missing:tasks_task.(parent_id)"),
        ("CREATE INDEX stray_idx ON tasks_task (title)", "drift.index_extra:tasks_task.stray_idx"),
        ("ALTER TABLE tasks_task ADD COLUMN legacy_code text", "drift.column_extra:tasks_task.legacy_code"),
        ("ALTER TABLE tasks_task ALTER COLUMN external_key TYPE text", "drift.column_type:tasks_task.external_key"),
        ("ALTER TABLE tasks_task ALTER COLUMN priority TYPE bigint", "drift.column_type:tasks_task.priority"),
        ("ALTER TABLE tasks_task ALTER COLUMN title DROP NOT NULL", "drift.column_null:tasks_task.title"),
        ("ALTER TABLE tasks_task DROP COLUMN test_strategy CASCADE", "drift.column_missing:tasks_task.test_strategy"),
        ("ALTER TABLE tasks_task DROP CONSTRAINT task_priority_0_10", "drift.constraint_missing:tasks_task.task_priority_0_10"),
        ("ALTER TABLE tasks_task DROP CONSTRAINT tasks_task_parent_id_ee6a2001_fk_tasks_task_id",
         "drift.constraint_missing:tasks_task.fk(parent_id)"),
        ("ALTER TABLE tasks_task ADD CONSTRAINT stray_check CHECK (priority < 100)",
         "drift.constraint_extra:tasks_task.stray_check"),
        ("ALTER TABLE tasks_task DISABLE TRIGGER pgtrigger_set_updated_at_ca71f",
         "drift.trigger_disabled:tasks_task.pgtrigger_set_updated_at_ca71f"),
        ("DROP TRIGGER pgtrigger_set_updated_at_ca71f ON tasks_task",
         "drift.trigger_uninstalled:tasks_task.pgtrigger_set_updated_at_ca71f"),
        ("CREATE TABLE public.leftover_table (id int)", "drift.table_extra:leftover_table"),
        ("DELETE FROM django_migrations WHERE app = 'tasks' AND name = '0008_task_external_key_idx'",
         "drift.migration_unapplied:tasks.0008_task_external_key_idx"),
    ],
)  # fmt: skip
def test_planted_drift_is_found(sql, key):
    found = planted(sql)
    assert key in found, sorted(found)
    # Nothing else: the planted change is the only difference (CASCADE drops nothing declared).
    others = [
        k for k in found if k != key and not k.startswith("drift.index_missing:tasks_task.(test")
    ]
    assert others == [], others


def test_schema_audit_exits_1_on_drift_and_names_it():
    with connections["owner"].cursor() as cursor:
        cursor.execute("ALTER TABLE tasks_task ADD COLUMN legacy_code text")
    code, out = schema_audit("--database", "owner")
    assert code == 1
    assert "drift.column_extra" in out and "tasks_task.legacy_code" in out
    code, out = schema_audit("--database", "owner", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["clean"] is False and doc["counts"] == {"drift.column_extra": 1}


@pytest.mark.django_db(databases=["default", "owner", "monitor", "readonly"], transaction=True)
def test_missing_index_fix_from_dbhealth_json_recreates_it():
    owner = conninfo("owner")
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("DROP INDEX tasks_task_created_at_0fbeae19")
    try:
        _, doc = dbhealth_json("drift", "findings")
        items = {i["key"]: i for i in doc["sections"]["findings"]["items"]}
        key = "drift.index_missing:tasks_task.(created_at)"
        assert key in items
        fix = items[key]["suggested_fix"]
        assert "CONCURRENTLY" in fix
        with psycopg.connect(owner, autocommit=True) as conn:
            for statement in pglast.split(fix):
                conn.execute(statement)
        _, doc = dbhealth_json("drift", "findings")
        assert key not in {i["key"] for i in doc["sections"]["findings"]["items"]}
        assert drift.audit() == []
    finally:
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute(
                "CREATE INDEX IF NOT EXISTS tasks_task_created_at_0fbeae19 ON tasks_task (created_at)"
            )
