"""Reads used by the importer (planning, --dry-run) and by export_tasks."""

from __future__ import annotations

from django.db.models import TextField
from django.db.models.functions import Cast

from apps.blueprints.models import Template
from apps.knowledge.models import Article
from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow


def project_by_name(name: str) -> Project | None:
    return Project.objects.filter(name__iexact=name).first()


def workflow_get(*, project: Project | None, name: str) -> Workflow | None:
    if project is None:
        return None
    return Workflow.objects.filter(project=project, name=name).first()


def workflow_dependency_keys(workflow_id: int | None) -> set[tuple[str, str]]:
    """The workflow's dependencies as (task external_key, depends_on external_key).

    Two single-table reads joined in Python: during an import the planner's statistics do not know
    the rows just written, and a SQL join of three tables then degrades to nested loops."""
    if workflow_id is None:
        return set()
    keys = {v: k for k, v in workflow_task_ids(workflow_id).items()}
    rows = TaskDependency.objects.filter(task_id__in=list(keys)).values_list(
        "task_id", "depends_on_id"
    )
    return {(keys[a], keys[b]) for a, b in rows if a in keys and b in keys}


def task_ids(workflow_id: int, keys: list[str]) -> dict[str, int]:
    """external_key → id of these tasks of the workflow."""
    return dict(
        Task.objects.filter(workflow_id=workflow_id, external_key__in=keys).values_list(
            "external_key", "id"
        )
    )


def workflow_task_ids(workflow_id: int) -> dict[str, int]:
    return dict(
        Task.objects.filter(workflow_id=workflow_id, external_key__isnull=False).values_list(
            "external_key", "id"
        )
    )


TASK_COMPARED = (
    "parent_key",
    "title",
    "description",
    "details",
    "test_strategy",
    "status",
    "priority",
    "legacy",
)


def workflow_task_states(workflow_id: int | None, keys: list[str]) -> dict[str, tuple]:
    """external_key → the compared column values (as the importer writes them), for `keys`."""
    if workflow_id is None:
        return {}
    rows = list(
        Task.objects.filter(workflow_id=workflow_id, external_key__in=keys).values_list(
            "external_key", "parent__external_key", *TASK_COMPARED[1:]
        )
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def article_state(*, project: Project | None, slug: str) -> tuple | None:
    if project is None:
        return None
    return (
        Article.objects.filter(project=project, slug=slug)
        .values_list("title", "content", "content_type")
        .first()
    )


def template_state(*, name: str, type: str) -> tuple | None:
    return (
        Template.objects.filter(name=name, type=type, version="1.0.0")
        .values_list("content", "category")
        .first()
    )


def export_workflows(*, project: Project, workflow: str | None = None):
    """The project's workflows, `legacy_text` holding Workflow.legacy as JSON text."""
    qs = (
        Workflow.objects.filter(project=project)
        .annotate(legacy_text=Cast("legacy", TextField()))
        .order_by("created_at", "id")
    )
    if workflow is not None:
        qs = qs.filter(name=workflow)
    return qs


EXPORT_COLUMNS = (
    "id",
    "parent_id",
    "external_key",
    "title",
    "description",
    "details",
    "test_strategy",
    "status",
    "priority",
    "legacy_text",
)


def export_tasks_of(workflow_id: int):
    """The workflow's tasks as tuples of EXPORT_COLUMNS, `legacy` as its JSON text (so that number
    forms such as 2.50 survive), in id order, fetched in chunks."""
    return (
        Task.objects.filter(workflow_id=workflow_id)
        .annotate(legacy_text=Cast("legacy", TextField()))
        .order_by("id")
        .values_list(*EXPORT_COLUMNS)
        .iterator(chunk_size=5000)
    )


def export_dependencies_of(workflow_id: int) -> list[tuple[int, int]]:
    """(task_id, depends_on_id) of the workflow's tasks, in the order they were made."""
    return list(
        TaskDependency.objects.filter(task__workflow_id=workflow_id)
        .order_by("id")
        .values_list("task_id", "depends_on_id")
    )
