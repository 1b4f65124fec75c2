"""Row-level security on the project-bound tables: which rows a scoped transaction sees.

A policy's predicate names the project a row belongs to; `{projects}` is the transaction's
list of project ids for the command at hand (`flowbase.project_ids` to read,
`flowbase.write_project_ids` to add and change, `flowbase.delete_project_ids` to delete; set by
apps.pg.rowscope from the user's role in each project), `{workflows}` those projects' workflows. The app role gets these policies; the read-only role (data
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
    predicate: str  # the project of a row: the rows a scoped transaction reads
    also_reads: str = ""  # rows it may read but never write (e.g. articles of no project)
    # What a new or changed row must satisfy; every reference, not only the one that names the
    # project (the integrity triggers run in the same scope and cannot see other projects).
    check: str = ""


TASKS_IN = "(SELECT t.id FROM {tasks} t WHERE t.workflow_id IN {workflows})"
TASK_PROJECT_FUNCTION = "flowbase_task_project"

POLICIES = (
    RowPolicy("projects.Project", "id = ANY ({projects})"),
    RowPolicy("workflows.Workflow", "project_id = ANY ({projects})"),
    RowPolicy(
        "tasks.Task",
        "workflow_id IN {workflows}",
        # A policy may not read its own table (recursion): the parent's project comes from a
        # function of the owner.
        check="workflow_id IN {workflows}"
        " AND (parent_id IS NULL OR " + TASK_PROJECT_FUNCTION + "(parent_id) = ANY ({projects}))",
    ),
    RowPolicy(
        "tasks.TaskDependency",
        "task_id IN " + TASKS_IN,
        check="task_id IN " + TASKS_IN + " AND depends_on_id IN " + TASKS_IN,
    ),
    RowPolicy("tasks.DependencyGraph", "project_id = ANY ({projects})"),
    RowPolicy("runs.WorkflowRun", "workflow_id IN {workflows}"),
    RowPolicy(
        "runs.NodeExecution",
        "run_id IN (SELECT r.id FROM {runs} r WHERE r.workflow_id IN {workflows})",
    ),
    RowPolicy(
        "events.Event",
        "project_id = ANY ({projects}) OR workflow_id IN {workflows}",
        # Every reference inside the scope: no event planted into another project's stream.
        check="(project_id IS NOT NULL OR workflow_id IS NOT NULL)"
        " AND (project_id IS NULL OR project_id = ANY ({projects}))"
        " AND (workflow_id IS NULL OR workflow_id IN {workflows})"
        " AND (task_id IS NULL OR task_id IN " + TASKS_IN + ")",
    ),
    RowPolicy(
        "knowledge.Article", "project_id = ANY ({projects})", also_reads="project_id IS NULL"
    ),
)


def _table(apps, label: str) -> str:
    return apps.get_model(label)._meta.db_table


def _names(apps, kind: str) -> dict[str, str]:
    # A subquery: one evaluation per statement (an InitPlan), not one per row.
    projects = f"(SELECT {SCOPE_FUNCTION}('{kind}'))::bigint[]"
    workflows = _table(apps, "workflows.Workflow")
    return {
        "projects": projects,
        "workflows": f"(SELECT w.id FROM {quote(workflows)} w WHERE w.project_id = ANY ({projects}))",
        "tasks": quote(_table(apps, "tasks.Task")),
        "runs": quote(_table(apps, "runs.WorkflowRun")),
    }


def function_sql() -> str:
    # No SET clause: a function with one cannot be inlined; it reads nothing but a setting.
    cases = " ".join(f"WHEN '{kind}' THEN '{name}'" for kind, name in rowscope.SETTINGS.items())
    return (
        f"CREATE OR REPLACE FUNCTION public.{SCOPE_FUNCTION}(kind text) RETURNS bigint[] "
        "LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(nullif(pg_catalog.current_setting("
        f"CASE kind {cases} END, true), ''), '{{}}')::bigint[] $$"
    )


PARTITIONS_SQL = """
SELECT n.nspname, c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = %s::regclass
"""


def task_project_function_sql(apps) -> list[str]:
    """The project of a task, read as the owner (past the policies): only the parent check of a
    task's own policy needs it, which cannot query tasks_task itself."""
    r = roles_config.roles()
    tasks, workflows = quote(_table(apps, "tasks.Task")), quote(_table(apps, "workflows.Workflow"))
    fn = f"public.{TASK_PROJECT_FUNCTION}(bigint)"
    return [
        f"CREATE OR REPLACE FUNCTION {fn} RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = pg_catalog, public AS $$ SELECT w.project_id FROM "
        f"{tasks} t JOIN {workflows} w ON w.id = t.workflow_id WHERE t.id = $1 $$",
        f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {fn} TO {quote(r.app)}",
    ]


POLICIES_SQL = """
SELECT policyname FROM pg_policies WHERE schemaname = 'public' AND tablename = %s
  AND policyname LIKE 'flowbase\\_%%'
"""


def _policy_sql(policy: RowPolicy, apps) -> dict[str, str]:
    """Policy name -> its CREATE POLICY statement, for one declared table."""
    r = roles_config.roles()
    app, readonly = quote(r.app), quote(r.readonly)
    table = quote(_table(apps, policy.model))
    seen, write, delete = (
        policy.predicate.format(**_names(apps, kind)) for kind in ("view", "write", "delete")
    )
    check = (policy.check or policy.predicate).format(**_names(apps, "write"))
    sql = {
        "read": f"FOR SELECT TO {app} USING ({seen})",
        "add": f"FOR INSERT TO {app} WITH CHECK ({check})",
        "change": f"FOR UPDATE TO {app} USING ({write}) WITH CHECK ({check})",
        "delete": f"FOR DELETE TO {app} USING ({delete})",
        "readonly": f"FOR SELECT TO {readonly} USING (true)",
    }
    if policy.also_reads:
        sql["shared_read"] = f"FOR SELECT TO {app} USING ({policy.also_reads})"
    return {
        POLICY_PREFIX + name: f"CREATE POLICY {POLICY_PREFIX}{name} ON {table} {rest}"
        for name, rest in sql.items()
    }


def policy_names(policy: RowPolicy) -> set[str]:
    return set(_policy_sql(policy, global_apps))


def table_of(policy: RowPolicy) -> str:
    return _table(global_apps, policy.model)


def statements(apps=global_apps) -> list[str]:
    """The SQL putting every declared policy in place (as the tables' owner), after the
    existing flowbase_* policies of the tables are dropped (see apply)."""
    out = [function_sql(), *task_project_function_sql(apps)]
    for policy in POLICIES:
        out.append(f"ALTER TABLE {quote(_table(apps, policy.model))} ENABLE ROW LEVEL SECURITY")
        out += _policy_sql(policy, apps).values()
    return out


def _drop_existing(cursor, apps) -> None:
    for policy in POLICIES:
        table = _table(apps, policy.model)
        cursor.execute(POLICIES_SQL, [table])
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP POLICY {quote(name)} ON {quote(table)}")
    cursor.execute(f"DROP FUNCTION IF EXISTS public.{SCOPE_FUNCTION}()")


def apply(schema_editor, apps=global_apps) -> None:
    with schema_editor.connection.cursor() as cursor:
        _drop_existing(cursor, apps)
        for statement in statements(apps):
            cursor.execute(statement)
        for policy in POLICIES:
            cursor.execute(PARTITIONS_SQL, [_table(apps, policy.model)])
            for schema, name in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {quote(schema, name)} ENABLE ROW LEVEL SECURITY")


def remove(schema_editor, apps=global_apps) -> None:
    with schema_editor.connection.cursor() as cursor:
        _drop_existing(cursor, apps)
        for policy in POLICIES:
            table = quote(_table(apps, policy.model))
            cursor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            cursor.execute(PARTITIONS_SQL, [_table(apps, policy.model)])
            for schema, name in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {quote(schema, name)} DISABLE ROW LEVEL SECURITY")
        cursor.execute(f"DROP FUNCTION IF EXISTS public.{SCOPE_FUNCTION}(text)")
        cursor.execute(f"DROP FUNCTION IF EXISTS public.{TASK_PROJECT_FUNCTION}(bigint)")


def scoped_tables() -> list[str]:
    return [table_of(policy) for policy in POLICIES]
