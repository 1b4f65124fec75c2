"""Row-level security on the project-bound tables: which rows a scoped transaction sees.

A policy's predicate names the project a row belongs to; `{projects}` is the transaction's
list of project ids (`flowbase.project_ids`, set by apps.pg.rowscope), `{workflows}` the ids
of those projects' workflows. The app role gets these policies; the read-only role (data
quality checks over every project) reads every row; the owner and the app's BYPASSRLS role
are not subject to them. Partitions get RLS with no policy: reached directly instead of
through their parent they show the app nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps as global_apps

from apps.core.roles import config as roles_config
from apps.pg import rowscope
from apps.pg.sql import quote

SCOPE_FUNCTION = "flowbase_scope_project_ids"
POLICY_PREFIX = "flowbase_"


@dataclass(frozen=True)
class RowPolicy:
    model: str  # app_label.Model
    predicate: str  # the rows a scoped transaction reads and writes
    also_reads: str = ""  # rows it may read but not write (e.g. articles of no project)


POLICIES = (
    RowPolicy("projects.Project", "id = ANY ({projects})"),
    RowPolicy("workflows.Workflow", "project_id = ANY ({projects})"),
    RowPolicy("tasks.Task", "workflow_id IN {workflows}"),
    RowPolicy(
        "tasks.TaskDependency",
        "task_id IN (SELECT t.id FROM {tasks} t WHERE t.workflow_id IN {workflows})",
    ),
    RowPolicy("tasks.DependencyGraph", "project_id = ANY ({projects})"),
    RowPolicy("runs.WorkflowRun", "workflow_id IN {workflows}"),
    RowPolicy(
        "runs.NodeExecution",
        "run_id IN (SELECT r.id FROM {runs} r WHERE r.workflow_id IN {workflows})",
    ),
    RowPolicy("events.Event", "project_id = ANY ({projects}) OR workflow_id IN {workflows}"),
    RowPolicy(
        "knowledge.Article", "project_id = ANY ({projects})", also_reads="project_id IS NULL"
    ),
)


def _table(apps, label: str) -> str:
    return apps.get_model(label)._meta.db_table


def _names(apps) -> dict[str, str]:
    # A subquery: one evaluation per statement (an InitPlan), not one per row.
    projects = f"(SELECT {SCOPE_FUNCTION}())::bigint[]"
    workflows = _table(apps, "workflows.Workflow")
    return {
        "projects": projects,
        "workflows": f"(SELECT w.id FROM {quote(workflows)} w WHERE w.project_id = ANY ({projects}))",
        "tasks": quote(_table(apps, "tasks.Task")),
        "runs": quote(_table(apps, "runs.WorkflowRun")),
    }


def function_sql() -> str:
    # No SET clause: a function with one cannot be inlined; it reads nothing but a setting.
    return (
        f"CREATE OR REPLACE FUNCTION public.{SCOPE_FUNCTION}() RETURNS bigint[] "
        "LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(nullif(pg_catalog.current_setting("
        f"'{rowscope.setting_name()}', true), ''), '{{}}')::bigint[] $$"
    )


PARTITIONS_SQL = """
SELECT n.nspname, c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = %s::regclass
"""


def statements(apps=global_apps) -> list[str]:
    """Idempotent SQL putting every declared policy in place (as the tables' owner)."""
    r = roles_config.roles()
    names = _names(apps)
    out = [function_sql()]
    for policy in POLICIES:
        table = quote(_table(apps, policy.model))
        predicate = policy.predicate.format(**names)
        out += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY_PREFIX}scope ON {table}",
            f"CREATE POLICY {POLICY_PREFIX}scope ON {table} TO {quote(r.app)} "
            f"USING ({predicate}) WITH CHECK ({predicate})",
            f"DROP POLICY IF EXISTS {POLICY_PREFIX}scope_reads ON {table}",
            f"DROP POLICY IF EXISTS {POLICY_PREFIX}readonly ON {table}",
            f"CREATE POLICY {POLICY_PREFIX}readonly ON {table} FOR SELECT "
            f"TO {quote(r.readonly)} USING (true)",
        ]
        if policy.also_reads:
            out.append(
                f"CREATE POLICY {POLICY_PREFIX}scope_reads ON {table} FOR SELECT "
                f"TO {quote(r.app)} USING ({policy.also_reads})"
            )
    return out


def apply(schema_editor, apps=global_apps) -> None:
    with schema_editor.connection.cursor() as cursor:
        for statement in statements(apps):
            cursor.execute(statement)
        for policy in POLICIES:
            cursor.execute(PARTITIONS_SQL, [_table(apps, policy.model)])
            for schema, name in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {quote(schema, name)} ENABLE ROW LEVEL SECURITY")


def remove(schema_editor, apps=global_apps) -> None:
    with schema_editor.connection.cursor() as cursor:
        for policy in POLICIES:
            table = quote(_table(apps, policy.model))
            for suffix in ("scope", "scope_reads", "readonly"):
                cursor.execute(f"DROP POLICY IF EXISTS {POLICY_PREFIX}{suffix} ON {table}")
            cursor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            cursor.execute(PARTITIONS_SQL, [_table(apps, policy.model)])
            for schema, name in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {quote(schema, name)} DISABLE ROW LEVEL SECURITY")
        cursor.execute(f"DROP FUNCTION IF EXISTS public.{SCOPE_FUNCTION}()")


def scoped_tables() -> list[str]:
    return [_table(global_apps, policy.model) for policy in POLICIES]
