"""seed_demo --scale small: realistic rows in every core model, and a no-op the second time."""

import io

import pytest
from django.core.management import call_command

from apps.blueprints.models import Template
from apps.components.models import Component, ComponentCommunication, LearningData, SystemHealth
from apps.knowledge.models import Article
from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow

# seed_demo creates the months' partitions and ends with ANALYZE, as the owner: committed tests.
pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("restore_partitions"),
]

MODELS = [
    Project,
    Workflow,
    Task,
    TaskDependency,
    Template,
    Article,
    Component,
    ComponentCommunication,
    SystemHealth,
    LearningData,
]


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_small_fills_every_model_and_is_idempotent():
    seed("--scale", "small")
    first = counts()
    assert all(first.values()), first
    assert Task.objects.filter(parent__isnull=False).exists()  # subtasks
    assert Workflow.objects.filter(node_count__gt=0, definition__has_key="nodes").exists()
    assert Template.objects.filter(usage_count__gt=0).exists()
    assert Article.objects.filter(content__contains="## What to do").exists()
    assert "already loaded" in seed("--scale", "small")
    assert counts() == first


def test_small_dependencies_are_acyclic_and_inside_a_workflow():
    seed()
    edges = list(TaskDependency.objects.values_list("task_id", "depends_on_id"))
    graph: dict[int, list[int]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[int, int] = {}

    def visit(node: int) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, "cycle"
            if nxt not in state:
                visit(nxt)
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node)
    assert not TaskDependency.objects.exclude(
        task__workflow=models_f("depends_on__workflow")
    ).exists()


def models_f(name: str):
    from django.db.models import F

    return F(name)


def test_reset_reloads_without_duplicates():
    seed()
    before = counts()
    Project.objects.filter(settings__demo="small").first().delete()  # a partial state
    seed()
    assert counts() == before
    seed("--reset")
    assert counts() == before
