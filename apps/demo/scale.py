"""`medium` (~100k tasks) and `large` (~1M tasks): generated inside PostgreSQL, not row by row."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass

from django.db import transaction

from apps.demo import content
from apps.demo.sql import analyze, execute, insert_select, pgtrigger_fast_path
from apps.demo.timeseries import timeseries_seed
from apps.knowledge.models import Article
from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow


@dataclass(frozen=True)
class Scale:
    projects: int
    workflows: int  # per project; every 4th is an n8n-style automation without tasks
    tasks: int  # top-level tasks per task workflow; each has 0-2 subtasks (1 on average)
    articles: int  # per project


SCALES = {
    # 20 x 4 task workflows x 625 x 2 ~ 100k tasks
    "medium": Scale(projects=20, workflows=5, tasks=625, articles=5),
    # 100 x 7.5 task workflows x 667 x 2 ~ 1M tasks
    "large": Scale(projects=100, workflows=10, tasks=667, articles=5),
}
DEPENDENCY_CHUNK = 8  # workflows per dependency statement

TABLES = [
    "events_event",
    "events_performancemetric",
    "runs_workflowrun",
    "runs_nodeexecution",
    "projects_project",
    "workflows_workflow",
    "tasks_task",
    "tasks_taskdependency",
    "knowledge_article",
]
STATUS_CYCLE = (
    ["pending"] * 3
    + ["in_progress"] * 2
    + ["review"]
    + ["done"] * 4
    + [
        "deferred",
        "cancelled",
        "blocked",
    ]
)

DEMO_PROJECTS = "SELECT id FROM projects_project WHERE settings->>'demo' = %(scale)s"
TASK_WORKFLOWS = (
    f"SELECT id FROM workflows_workflow WHERE project_id IN ({DEMO_PROJECTS}) "
    "AND definition = '{}'::jsonb"
)
INT_KEY = "(CASE WHEN {0}.external_key ~ '^[0-9]+$' THEN {0}.external_key::int END)"


def scale_is_loaded(scale: str) -> bool:
    return Project.objects.filter(settings__demo=scale).count() >= SCALES[scale].projects


@transaction.atomic
def scale_seed(scale: str, *, log=print) -> dict[str, int]:
    spec = SCALES[scale]
    rng = random.Random(scale)
    p = {
        "scale": scale,
        "verbs": content.VERBS,
        "objects": content.OBJECTS,
        "sentences": content.SENTENCES,
        "statuses": STATUS_CYCLE,
        "n8n": json.dumps(content.n8n_definition(rng, "Scale")),
    }
    pgtrigger_fast_path()
    counts: dict[str, int] = {}
    clock = time.perf_counter()

    def step(label: str, n: int) -> None:
        nonlocal clock
        log(f"  {label}: {n} in {time.perf_counter() - clock:.1f} s")
        clock = time.perf_counter()

    counts["projects"] = insert_select(
        Project,
        {
            "name": "'Scale ' || %(scale)s || ' ' || lpad(g::text, 3, '0')",
            "slug": "'scale-' || %(scale)s || '-' || g",
            "description": "'Generated project (' || %(scale)s || ' scale).'",
            "settings": "jsonb_build_object('demo', %(scale)s::text)",
            "status": "(ARRAY['active','active','active','on_hold','completed'])[1 + g %% 5]",
            "created_at": "now() - interval '1 day' * (400 + g %% 140)",
        },
        "FROM generate_series(1, %(n)s) g",
        {**p, "n": spec.projects},
        suffix="ON CONFLICT DO NOTHING",
    )
    step("projects", counts["projects"])
    counts["workflows"] = insert_select(
        Workflow,
        {
            "project_id": "p.id",
            "name": "CASE WHEN w %% 4 = 0 THEN 'automation-' ELSE 'workflow-' END || w",
            "description": "(%(sentences)s::text[])[1 + (p.id + w) %% 10]",
            "phase": "(ARRAY['planning','development','testing','review','deployment'])"
            "[1 + (p.id + w) %% 5]",
            "status": "(ARRAY['active','active','paused','completed','draft'])[1 + (p.id * 7 + w) %% 5]",
            "definition": "CASE WHEN w %% 4 = 0 THEN %(n8n)s::jsonb ELSE '{}'::jsonb END",
            "node_count": "CASE WHEN w %% 4 = 0 THEN jsonb_array_length(%(n8n)s::jsonb -> 'nodes') "
            "ELSE 0 END",
            "tags": "jsonb_build_array((ARRAY['backend','frontend','infra'])[1 + w %% 3])",
            "created_at": "now() - interval '1 day' * (300 + (p.id * 13 + w) %% 240)",
        },
        "FROM projects_project p CROSS JOIN generate_series(1, %(n)s) w "
        "WHERE p.settings->>'demo' = %(scale)s",
        {**p, "n": spec.workflows},
    )
    step("workflows", counts["workflows"])
    analyze(["projects_project", "workflows_workflow"])
    counts["tasks"] = insert_select(
        Task,
        {
            "workflow_id": "x.wid",
            "external_key": "x.i::text",
            "title": "(%(verbs)s::text[])[1 + (x.i * 7 + x.wid) %% 10] || ' ' || "
            "(%(objects)s::text[])[1 + (x.i * 13 + x.wid) %% 15] || ' #' || x.i",
            "description": "(%(sentences)s::text[])[1 + (x.i * 3 + x.wid) %% 10] || ' ' || "
            "(%(sentences)s::text[])[1 + (x.i * 5 + x.wid) %% 10]",
            "details": "(%(sentences)s::text[])[1 + (x.i * 11 + x.wid) %% 10]",
            "test_strategy": "(%(sentences)s::text[])[1 + (x.i + x.wid) %% 10]",
            "status": "x.status",
            "priority": "(x.i * 17 + x.wid) %% 11",
            "assignee": "(ARRAY['','ana','bilal','chen','dora'])[1 + (x.i + x.wid) %% 5]",
            "estimated_effort": "((x.i + x.wid) %% 8 + 1)::numeric",
            "created_at": "x.created_at",
            "completed_at": "CASE WHEN x.status = 'done' "
            "THEN x.created_at + interval '1 day' * (x.i %% 30) END",
        },
        "FROM (SELECT w.id AS wid, i, (%(statuses)s::text[])[1 + (i * 31 + w.id) %% 13] AS status,"
        " now() - interval '1 day' * (30 + (i * 37 + w.id) %% 500) AS created_at"
        f" FROM ({TASK_WORKFLOWS}) w CROSS JOIN generate_series(1, %(n)s) i) x",
        {**p, "n": spec.tasks},
    )
    step("top-level tasks", counts["tasks"])
    analyze(["tasks_task"])
    subtasks = insert_select(
        Task,
        {
            "workflow_id": "t.workflow_id",
            "parent_id": "t.id",
            "external_key": "t.external_key || '.' || s",
            "title": "'Step ' || s || ': ' || lower(t.title)",
            "description": "t.test_strategy",
            "status": "CASE WHEN t.status IN ('done','cancelled') THEN t.status ELSE 'pending' END",
            "priority": "t.priority",
            "created_at": "t.created_at",
        },
        f"FROM tasks_task t CROSS JOIN LATERAL generate_series(1, {INT_KEY.format('t')} %% 3) s "
        f"WHERE t.parent_id IS NULL AND t.workflow_id IN ({TASK_WORKFLOWS})",
        p,
    )
    counts["tasks"] += subtasks
    step("subtasks", subtasks)
    analyze(["tasks_task"])
    # Chains of at most 10 tasks (i → i-1, and i → i-2 on every third): acyclic, realistic, and
    # the database's per-row cycle check only ever walks a short chain.
    deps = 0
    # The cycle trigger's per-row walk was planned when the table was small; without this it
    # scans the whole dependency table at every step (quadratic).
    execute("SET LOCAL enable_seqscan = off")
    key = INT_KEY.format("t")
    workflow_ids = list(
        Workflow.objects.filter(project__settings__demo=scale, definition={}).values_list(
            "id", flat=True
        )
    )
    # A few workflows per statement: the per-row trigger work grows with the statement's size.
    for start in range(0, len(workflow_ids), DEPENDENCY_CHUNK):
        chunk = {**p, "wids": workflow_ids[start : start + DEPENDENCY_CHUNK]}
        for offset, condition in ((1, "%% 10 <> 1"), (2, "%% 10 >= 3 AND {k} %% 3 = 0")):
            deps += insert_select(
                TaskDependency,
                {"task_id": "t.id", "depends_on_id": "d.id", "type": "'blocks'"},
                "FROM tasks_task t JOIN tasks_task d ON d.workflow_id = t.workflow_id "
                f"AND d.parent_id IS NULL AND d.external_key = ({key} - {offset})::text "
                "WHERE t.parent_id IS NULL AND t.workflow_id = ANY(%(wids)s) "
                f"AND {key} {condition.format(k=key)}",
                chunk,
            )
        deps += insert_select(
            TaskDependency,
            {"task_id": "t.id", "depends_on_id": "d.id", "type": "'blocks'"},
            "FROM tasks_task t JOIN tasks_task par ON par.id = t.parent_id "
            "JOIN tasks_task d ON d.parent_id = t.parent_id "
            "AND d.external_key = par.external_key || '.' || "
            "(split_part(t.external_key, '.', 2)::int - 1) "
            "WHERE t.workflow_id = ANY(%(wids)s) AND split_part(t.external_key, '.', 2) <> '1'",
            chunk,
        )
    execute("SET LOCAL enable_seqscan = on")
    counts["dependencies"] = deps
    step("dependencies", deps)
    counts["articles"] = insert_select(
        Article,
        {
            "project_id": "p.id",
            "title": "(%(objects)s::text[])[1 + (p.id + a) %% 15] || ': notes ' || a",
            "slug": "'notes-' || a",
            "content": "'# Notes ' || a || E'\\n\\n' || array_to_string(%(sentences)s::text[], ' ')",
            "tags": "ARRAY['demo', %(scale)s]::varchar[]",
            "relevance_score": "((p.id + a) %% 10) / 10.0",
        },
        "FROM projects_project p CROSS JOIN generate_series(1, %(n)s) a "
        "WHERE p.settings->>'demo' = %(scale)s",
        {**p, "n": spec.articles},
        suffix="ON CONFLICT DO NOTHING",
    )
    counts.update(timeseries_seed(scale, log=log))
    return counts


def analyze_all() -> None:
    analyze(TABLES)
