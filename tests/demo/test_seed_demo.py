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
    pytest.mark.django_db(transaction=True, databases=["default", "owner", "readonly"]),
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
    seed("--reset", "--apply")
    assert counts() == before


def test_reset_without_apply_only_counts():
    seed()
    before = counts()
    out = seed("--reset")
    assert "dry run: nothing changed" in out
    assert f"would delete {before['Project']} projects" in out
    assert counts() == before


def test_small_has_every_severity_failed_runs_and_both_check_outcomes():
    from apps.dbhealth.models import DataQualityResult
    from apps.events.models import Event, Severity
    from apps.runs.models import WorkflowRun

    seed()
    demo_events = Event.objects.filter(payload__demo="small")
    assert set(demo_events.values_list("severity", flat=True).distinct()) == set(Severity.values)
    assert not demo_events.filter(project__isnull=True).exists()
    assert WorkflowRun.objects.filter(status="failed").exists()
    assert WorkflowRun.objects.filter(status="succeeded").exists()
    latest = DataQualityResult.objects.order_by("check_ref_id", "-ran_at").distinct("check_ref_id")
    outcomes = set(latest.values_list("passed", flat=True))
    assert outcomes == {True, False}, outcomes
    assert not latest.exclude(error="").exists()  # failures are findings, not broken checks
    assert DataQualityResult.objects.filter(
        check_ref__name="projects_missing_repository_url", passed=False
    ).exists()
    # a week of history per check, for the charts
    assert DataQualityResult.objects.values("check_ref").distinct().count() * 8 <= (
        DataQualityResult.objects.count()
    )
