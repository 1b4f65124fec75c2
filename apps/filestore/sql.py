"""The raw SQL of the importer: batched upserts that the ORM cannot express.

`INSERT … ON CONFLICT (natural key) DO UPDATE … WHERE (columns) IS DISTINCT FROM (excluded …)`
touches only rows that differ, so a re-run returns nothing for unchanged rows; `RETURNING
(xmax = 0)` tells created rows from updated ones. Rows go in through COPY into a temporary staging
table, one batch at a time, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models

from apps.blueprints.models import Template
from apps.knowledge.models import Article
from apps.pg.bulk import copy_rows as _copy  # the fault tests patch `_copy`
from apps.pg.bulk import orm_defaults
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow

TASK_STAGE = "filestore_task_stage"
DEP_STAGE = "filestore_dependency_stage"

_CREATE_STAGES = f"""
CREATE TEMP TABLE IF NOT EXISTS {TASK_STAGE} (
    ord integer, external_key text, parent_id bigint, title text, description text,
    details text, test_strategy text, status text, priority smallint, legacy jsonb
) ON COMMIT DROP;
CREATE TEMP TABLE IF NOT EXISTS {DEP_STAGE} (task_id bigint, depends_on_id bigint) ON COMMIT DROP;
"""

_UPSERT_TASKS = """
WITH up AS (
    INSERT INTO tasks_task AS t (
        workflow_id, parent_id, external_key, title, description, details, test_strategy,
        status, priority, legacy{fill_columns}
    )
    SELECT %(workflow)s, s.parent_id, s.external_key, s.title, s.description, s.details,
           s.test_strategy, s.status, s.priority, s.legacy{fill_values}
    FROM filestore_task_stage s
    ORDER BY s.ord
    ON CONFLICT (workflow_id, external_key) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title,
        description = EXCLUDED.description, details = EXCLUDED.details,
        test_strategy = EXCLUDED.test_strategy, status = EXCLUDED.status,
        priority = EXCLUDED.priority, legacy = EXCLUDED.legacy, updated_at = now()
    WHERE (t.parent_id, t.title, t.description, t.details, t.test_strategy, t.status,
           t.priority, t.legacy)
        IS DISTINCT FROM
          (EXCLUDED.parent_id, EXCLUDED.title, EXCLUDED.description, EXCLUDED.details,
           EXCLUDED.test_strategy, EXCLUDED.status, EXCLUDED.priority, EXCLUDED.legacy)
    RETURNING (xmax = 0) AS created
)
SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM up
"""

_INSERT_DEPENDENCIES = """
WITH ins AS (
    INSERT INTO tasks_taskdependency (task_id, depends_on_id, type{fill_columns})
    SELECT s.task_id, s.depends_on_id, 'blocks'{fill_values}
    FROM filestore_dependency_stage s
    ON CONFLICT (task_id, depends_on_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM ins
"""

# The file's tasks lose their dependencies inside the workflow that the file no longer has
# (edges to other workflows cannot be written in a tasks file, so they are left alone).
_SYNC_DEPENDENCIES = """
DELETE FROM tasks_taskdependency d
USING tasks_task b
WHERE d.task_id = ANY(%(task_ids)s::bigint[])
  AND b.id = d.depends_on_id AND b.workflow_id = %(workflow)s
  AND (d.task_id, d.depends_on_id) NOT IN (
      SELECT k.task_id, k.depends_on_id
      FROM unnest(%(keep_task_ids)s::bigint[], %(keep_depends_on_ids)s::bigint[])
           AS k(task_id, depends_on_id)
  )
"""

_UPSERT_WORKFLOW = """
WITH up AS (
    INSERT INTO workflows_workflow AS w (
        project_id, name, description, status, legacy{fill_columns}
    )
    VALUES (%(project)s, %(name)s, %(description)s, 'draft', %(legacy)s::jsonb{fill_values})
    ON CONFLICT (project_id, name) DO UPDATE SET
        description = EXCLUDED.description, legacy = EXCLUDED.legacy, updated_at = now()
    WHERE (w.description, w.legacy) IS DISTINCT FROM (EXCLUDED.description, EXCLUDED.legacy)
    RETURNING id, (xmax = 0) AS created
)
SELECT id, created FROM up
"""

_UPSERT_ARTICLE = """
WITH up AS (
    INSERT INTO knowledge_article AS a (
        project_id, slug, title, content, content_type, tags, relevance_score{fill_columns}
    )
    VALUES (%(project)s, %(slug)s, %(title)s, %(content)s, %(content_type)s,
            %(tags)s::varchar[], 0.5{fill_values})
    ON CONFLICT (project_id, slug) DO UPDATE SET
        title = EXCLUDED.title, content = EXCLUDED.content,
        content_type = EXCLUDED.content_type, updated_at = now()
    WHERE (a.title, a.content, a.content_type)
        IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.content, EXCLUDED.content_type)
    RETURNING (xmax = 0) AS created
)
SELECT created FROM up
"""

_UPSERT_TEMPLATE = """
WITH up AS (
    INSERT INTO blueprints_template AS t (
        name, type, category, content, tags, version, created_by{fill_columns}
    )
    VALUES (%(name)s, %(type)s, %(category)s, %(content)s::jsonb, %(tags)s::varchar[],
            '1.0.0', %(created_by)s{fill_values})
    ON CONFLICT (name, type, version) DO UPDATE SET
        content = EXCLUDED.content, category = EXCLUDED.category, updated_at = now()
    WHERE (t.content, t.category) IS DISTINCT FROM (EXCLUDED.content, EXCLUDED.category)
    RETURNING (xmax = 0) AS created
)
SELECT created FROM up
"""


_statements: dict[str, tuple[str, dict]] = {}


def _statement(
    template: str, model: type[models.Model], given: tuple[str, ...]
) -> tuple[str, dict]:
    """`template` with {fill_columns}/{fill_values} completed by every other NOT NULL-safe column
    of `model`: its Python default (so columns added to the model later need no change here) or
    now() for auto_now/auto_now_add timestamps. Returns (sql, parameters for the defaults)."""
    key = f"{model._meta.label}:{id(template)}"
    if key not in _statements:
        columns, values, params = orm_defaults(model, given=given, connection=connection)
        sql = template.replace("{fill_columns}", "".join(f", {c}" for c in columns))
        sql = sql.replace("{fill_values}", "".join(f", {v}" for v in values))
        _statements[key] = (sql, params)
    return _statements[key]


def _execute(cursor, template: str, model, given: tuple[str, ...], params: dict) -> None:
    sql, defaults = _statement(template, model, given)
    cursor.execute(sql, {**defaults, **params})


TASK_GIVEN = (
    "workflow_id",
    "parent_id",
    "external_key",
    "title",
    "description",
    "details",
    "test_strategy",
    "status",
    "priority",
    "legacy",
)
DEPENDENCY_GIVEN = ("task_id", "depends_on_id", "type")
WORKFLOW_GIVEN = ("project_id", "name", "description", "status", "legacy")
ARTICLE_GIVEN = (
    "project_id",
    "slug",
    "title",
    "content",
    "content_type",
    "tags",
    "relevance_score",
)
TEMPLATE_GIVEN = ("name", "type", "category", "content", "tags", "version", "created_by")


def _outcome(rows: list) -> str:
    if not rows:
        return "unchanged"
    return "created" if rows[0][-1] else "updated"


def create_stages() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGES)


_PGTRIGGER_FAST_PATH = """
SELECT set_config('pgtrigger.ignore', '{}', true)
WHERE coalesce(current_setting('pgtrigger.ignore', true), '') = ''
"""


def pgtrigger_fast_path() -> None:
    """Give `pgtrigger.ignore` an empty value for this transaction (unless someone set it).

    Every pgtrigger trigger first calls `_pgtrigger_should_ignore()`, which reads the setting in
    a BEGIN … EXCEPTION block; when it was never set, that raises and rolls back a
    subtransaction per row and trigger, and the transaction gets slower with every aborted
    subtransaction (measured: 40k tasks + 33k dependencies 20 s → 7 s). No trigger is skipped.
    """
    with connection.cursor() as cursor:
        cursor.execute(_PGTRIGGER_FAST_PATH)


def upsert_tasks_batch(workflow_id: int, rows: Sequence[tuple]) -> tuple[int, int]:
    """rows: (ord, external_key, parent_id, title, description, details, test_strategy, status,
    priority, legacy as JSON text).
    Returns (created, updated); the rest of the batch was unchanged."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TASK_STAGE}")
        _copy(
            cursor,
            f"COPY {TASK_STAGE} (ord, external_key, parent_id, title, description, details, "
            "test_strategy, status, priority, legacy) FROM STDIN",
            rows,
        )
        _execute(cursor, _UPSERT_TASKS, Task, TASK_GIVEN, {"workflow": workflow_id})
        created, updated = cursor.fetchone()
    return created, updated


def insert_dependencies_batch(workflow_id: int, edges: Sequence[tuple[int, int]]) -> int:
    """Insert (task_id, depends_on_id) pairs of one workflow; returns how many were new.

    Ids are resolved by the caller: a join on external_key here would be planned from statistics
    that do not know the rows this transaction just wrote (a nested loop over the workflow)."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {DEP_STAGE}")
        _copy(cursor, f"COPY {DEP_STAGE} (task_id, depends_on_id) FROM STDIN", edges)
        _execute(
            cursor,
            _INSERT_DEPENDENCIES,
            TaskDependency,
            DEPENDENCY_GIVEN,
            {"workflow": workflow_id},
        )
        return cursor.fetchone()[0]


def sync_dependencies(
    workflow_id: int, task_ids: Sequence[int], keep: Sequence[tuple[int, int]]
) -> int:
    """Delete the dependencies of `task_ids` inside the workflow that are not in `keep`."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SYNC_DEPENDENCIES,
            {
                "workflow": workflow_id,
                "task_ids": list(task_ids),
                "keep_task_ids": [a for a, _ in keep],
                "keep_depends_on_ids": [b for _, b in keep],
            },
        )
        return cursor.rowcount


def upsert_workflow(
    *, project_id: int, name: str, description: str, legacy_json: str
) -> tuple[int | None, str]:
    """The workflow of a Task Master tag; returns (id or None when unchanged, outcome)."""
    with connection.cursor() as cursor:
        _execute(
            cursor,
            _UPSERT_WORKFLOW,
            Workflow,
            WORKFLOW_GIVEN,
            {
                "project": project_id,
                "name": name,
                "description": description,
                "legacy": legacy_json,
            },
        )
        rows = cursor.fetchall()
    return (rows[0][0] if rows else None), _outcome(rows)


def upsert_article(
    *, project_id: int, slug: str, title: str, content: str, content_type: str, tags: list[str]
) -> str:
    with connection.cursor() as cursor:
        _execute(
            cursor,
            _UPSERT_ARTICLE,
            Article,
            ARTICLE_GIVEN,
            {
                "project": project_id,
                "slug": slug,
                "title": title,
                "content": content,
                "content_type": content_type,
                "tags": tags,
            },
        )
        return _outcome(cursor.fetchall())


def upsert_template(
    *, name: str, type: str, category: str, content: dict, tags: list[str], created_by: str
) -> str:
    with connection.cursor() as cursor:
        _execute(
            cursor,
            _UPSERT_TEMPLATE,
            Template,
            TEMPLATE_GIVEN,
            {
                "name": name,
                "type": type,
                "category": category,
                "content": json.dumps(content),
                "tags": tags,
                "created_by": created_by,
            },
        )
        return _outcome(cursor.fetchall())


def analyze_tasks() -> None:
    """Refresh the planner's statistics inside the import's transaction (ANALYZE counts this
    transaction's own rows), so the triggers' per-row lookups use indexes after a large write."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_task, tasks_taskdependency, workflows_workflow")


def index_scans_only(enabled: bool) -> None:
    """For a bulk dependency write: the cycle trigger's per-row walk is planned from statistics
    taken before the write; on a small or empty table that is a sequential scan per step, which
    turns a large import quadratic. Transaction-local; ANALYZE re-plans the trigger's queries."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('enable_seqscan', %s, true)", ["off" if enabled else "on"]
        )
        if enabled:
            cursor.execute("ANALYZE tasks_taskdependency")
