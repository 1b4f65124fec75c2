"""seed_demo: load (or reset) the demo data of one scale."""

from __future__ import annotations

import time

from django.db import transaction

from apps.blueprints.models import Template
from apps.components.models import Component, LearningData
from apps.demo import scale as scale_mod
from apps.demo import small
from apps.demo.quality import quality_seed
from apps.demo.sql import execute, pgtrigger_fast_path, scalar
from apps.demo.timeseries import timeseries_counts, timeseries_partitions, timeseries_reset
from apps.projects.models import Project

SCALES = ("small", "medium", "large")


def demo_seed(*, scale: str = "small", reset: bool = False, log=print) -> dict[str, int]:
    """Idempotent: a scale already loaded is left alone (a no-op costing a couple of queries).
    `reset` deletes every demo row first (the command asks for --apply before passing it)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    started = time.perf_counter()
    if reset:
        demo_reset(log=log)
    if scale == "small":
        if small.small_is_loaded():
            log("small demo data already loaded: nothing to do")
            return {}
        timeseries_partitions()
        counts = small.small_seed()
        counts.update(quality_seed())
    else:
        # Partition DDL before any seeding transaction (the small part's reads of the events
        # would make the owner's CREATE … PARTITION OF wait for it).
        timeseries_partitions()
        if not small.small_is_loaded():
            small.small_seed()  # the hand-made part comes with every scale
            quality_seed()
        if scale_mod.scale_is_loaded(scale):
            log(f"{scale} demo data already loaded: nothing to do")
            return {}
        counts = scale_mod.scale_seed(scale, log=log)
    scale_mod.analyze_all()
    log(f"seeded {scale} in {time.perf_counter() - started:.1f} s: {counts}")
    return counts


DEMO_TASKS = (
    "SELECT t.id FROM tasks_task t JOIN workflows_workflow w ON w.id = t.workflow_id "
    "JOIN projects_project p ON p.id = w.project_id WHERE p.settings ? 'demo'"
)


def demo_reset_plan() -> dict[str, int]:
    """What `demo_reset` would delete, counted and left in place (the dry run)."""
    plan = {"tasks": scalar(f"SELECT count(*) FROM ({DEMO_TASKS}) t")}
    plan.update(timeseries_counts())
    plan["projects"] = Project.objects.filter(settings__has_key="demo").count()
    plan["templates"] = Template.objects.filter(created_by=small.SEEDED_BY).count()
    plan["learning records"] = LearningData.objects.filter(context__demo=True).count()
    plan["components"] = Component.objects.filter(configuration__demo=True).count()
    return plan


@transaction.atomic
def demo_reset(*, log=print) -> None:
    """Delete every demo row (projects marked settings.demo and what hangs off them)."""
    demo_tasks = DEMO_TASKS
    pgtrigger_fast_path()
    timeseries_reset()
    # The bulk in SQL; the ORM then cascades over whatever else refers to projects.
    execute(
        f"DELETE FROM tasks_taskdependency WHERE task_id IN ({demo_tasks}) "
        f"OR depends_on_id IN ({demo_tasks})"
    )
    deleted = execute(f"DELETE FROM tasks_task WHERE id IN ({demo_tasks})")
    projects, _ = Project.objects.filter(settings__has_key="demo").delete()
    Template.objects.filter(created_by=small.SEEDED_BY).delete()
    LearningData.objects.filter(context__demo=True).delete()  # its component FK is SET_NULL
    Component.objects.filter(configuration__demo=True).delete()
    log(f"reset: {deleted} tasks and {projects} other demo rows deleted")
