"""The `small` demo set: a few projects with everything in them, written with ORM bulk writes."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.blueprints.models import Template
from apps.components.models import (
    Component,
    ComponentCommunication,
    LearningData,
    SystemHealth,
)
from apps.demo import content
from apps.demo.sql import pgtrigger_fast_path, spread_created_at
from apps.demo.timeseries import timeseries_seed
from apps.events.models import Event
from apps.knowledge.models import Article
from apps.projects.models import Project
from apps.projects.services import project_create
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow

DEMO_KEY = "demo"  # Project.settings["demo"] = scale; Component.configuration["demo"] = True
SEEDED_BY = "seed_demo"


def small_missing() -> list[tuple[str, str]]:
    existing = set(Project.objects.filter(settings__demo="small").values_list("name", flat=True))
    return [p for p in content.PROJECTS if p[0] not in existing]


def small_is_loaded() -> bool:
    return not small_missing() and Component.objects.filter(
        name__in=[c[0] for c in content.COMPONENTS]
    ).count() == len(content.COMPONENTS)


@transaction.atomic
def small_seed(*, seed: int = 4) -> dict[str, int]:
    pgtrigger_fast_path()
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    now = timezone.now()
    for name, description in small_missing():
        _project(rng, name, description, counts, now)
    _templates(rng, counts, now)
    _components(rng, counts, now)
    if not Event.objects.filter(payload__demo="small").exists():
        counts.update(timeseries_seed("small", log=lambda _message: None))
    return counts


def _bump(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def _project(rng, name: str, description: str, counts: dict, now) -> None:
    slug = slugify(name)
    if Project.objects.filter(slug=slug).exists():
        slug = f"{slug}-demo"
    project = project_create(
        name=name,
        slug=slug,
        description=description,
        # One project without a repository, so the data-quality page has a failing check.
        repository_url=""
        if name in content.WITHOUT_REPOSITORY
        else f"https://git.example.com/acme/{slugify(name)}",
        settings={DEMO_KEY: "small", "default_branch": "main"},
    )
    _bump(counts, "projects", 1)
    workflows = []
    for wf_name in content.WORKFLOW_NAMES[: rng.randint(3, len(content.WORKFLOW_NAMES))]:
        workflows.append(
            Workflow(
                project=project,
                name=wf_name,
                description=content.paragraph(rng, 1),
                phase=rng.choice(["planning", "development", "testing", "review"]),
                status="active",
                tags=[rng.choice(["backend", "frontend", "infra"])],
            )
        )
    for wf_name in rng.sample(content.N8N_WORKFLOWS, 2):
        definition = content.n8n_definition(rng, wf_name)
        workflows.append(
            Workflow(
                project=project,
                name=wf_name,
                description="Automation imported from n8n.",
                status=rng.choice(["active", "paused"]),
                definition=definition,
                node_count=len(definition["nodes"]),
                tags=["n8n", "automation"],
            )
        )
    Workflow.objects.bulk_create(workflows)
    _bump(counts, "workflows", len(workflows))
    for workflow in workflows:
        if not workflow.definition:
            _tasks(rng, workflow, counts, now)
    articles = []
    for title, tag in rng.sample(content.ARTICLES, 4):
        articles.append(
            Article(
                project=project,
                title=title,
                slug=slugify(title)[:255],
                content=content.article_body(rng, title),
                tags=[tag, "demo"],
                relevance_score=round(rng.uniform(0.2, 1.0), 2),
                access_count=rng.randint(0, 400),
                last_accessed_at=now - timedelta(days=rng.randint(0, 60)),
            )
        )
    Article.objects.bulk_create(articles)
    _bump(counts, "articles", len(articles))
    spread_created_at("workflows_workflow", "project_id = %(p)s", {"p": project.pk})
    spread_created_at(
        "tasks_task",
        "workflow_id IN (SELECT id FROM workflows_workflow WHERE project_id = %(p)s)",
        {"p": project.pk},
    )


def _tasks(rng, workflow: Workflow, counts: dict, now) -> None:
    tops = []
    for i in range(1, rng.randint(15, 25) + 1):
        status = rng.choices(content.TASK_STATUSES, content.STATUS_WEIGHTS)[0]
        tops.append(
            Task(
                workflow=workflow,
                external_key=str(i),
                title=content.task_title(rng),
                description=content.paragraph(rng, 2),
                details=content.paragraph(rng, 3),
                test_strategy=rng.choice(content.SENTENCES),
                status=status,
                priority=rng.randint(0, 10),
                estimated_effort=rng.choice([None, 1, 2, 3, 5, 8]),
                assignee=rng.choice(["", "ana", "bilal", "chen", "dora"]),
                completed_at=now - timedelta(days=rng.randint(0, 90)) if status == "done" else None,
            )
        )
    Task.objects.bulk_create(tops)
    subs = []
    for top in tops:
        for s in range(1, (rng.randint(2, 4) if rng.random() < 0.4 else 0) + 1):
            subs.append(
                Task(
                    workflow=workflow,
                    parent=top,
                    external_key=f"{top.external_key}.{s}",
                    title=f"Step {s}: {content.task_title(rng).lower()}",
                    description=content.paragraph(rng, 1),
                    status=top.status if top.status in ("done", "cancelled") else "pending",
                    priority=top.priority,
                )
            )
    Task.objects.bulk_create(subs)
    deps = []
    for index, top in enumerate(tops):  # only to earlier tasks: acyclic
        for target in rng.sample(tops[max(0, index - 5) : index], min(index, rng.randint(0, 2))):
            deps.append(TaskDependency(task=top, depends_on=target))
    by_parent: dict[int, list[Task]] = {}
    for sub in subs:
        by_parent.setdefault(sub.parent_id, []).append(sub)
    for siblings in by_parent.values():
        deps += [TaskDependency(task=b, depends_on=a) for a, b in itertools.pairwise(siblings)]
    TaskDependency.objects.bulk_create(deps)
    _bump(counts, "tasks", len(tops) + len(subs))
    _bump(counts, "dependencies", len(deps))


def _templates(rng, counts: dict, now) -> None:
    rows = []
    for name, kind, category in content.TEMPLATES:
        usage = rng.randint(0, 300)
        success = rng.randint(0, usage)
        rows.append(
            Template(
                name=name,
                type=kind,
                category=category,
                description=content.paragraph(rng, 1),
                content={"body": content.paragraph(rng, 2), "variables": ["project", "owner"]},
                tags=[category, "demo"],
                usage_count=usage,
                success_count=success,
                failure_count=rng.randint(0, usage - success),
                last_used_at=now - timedelta(days=rng.randint(0, 120)) if usage else None,
                created_by=SEEDED_BY,
            )
        )
    created = Template.objects.bulk_create(rows, ignore_conflicts=True)
    _bump(counts, "templates", len(created))


def _components(rng, counts: dict, now) -> None:
    existing = set(Component.objects.values_list("name", flat=True))
    rows = [
        Component(
            name=name,
            type=kind,
            version=f"{rng.randint(1, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}",
            health_status=rng.choices(["healthy", "degraded", "unhealthy"], [8, 2, 1])[0],
            capabilities={"actions": rng.sample(["plan", "build", "test", "deploy", "notify"], 2)},
            configuration={DEMO_KEY: True, "timeout_s": rng.choice([30, 60, 120])},
            last_heartbeat=now - timedelta(seconds=rng.randint(5, 600)),
        )
        for name, kind in content.COMPONENTS
        if name not in existing
    ]
    if not rows:
        return
    Component.objects.bulk_create(rows)
    _bump(counts, "components", len(rows))
    health = []
    for component in rows:
        for hour in range(0, 24 * 14, 6):  # every 6 hours for two weeks
            status = rng.choices(["healthy", "degraded", "unhealthy"], [20, 3, 1])[0]
            health.append(
                SystemHealth(
                    component=component,
                    status=status,
                    cpu_usage=round(rng.uniform(5, 95), 1),
                    memory_usage=round(rng.uniform(20, 90), 1),
                    disk_usage=round(rng.uniform(10, 80), 1),
                    response_time_ms=round(rng.lognormvariate(4, 0.6), 1),
                    error_rate=round(rng.uniform(0, 5 if status == "healthy" else 30), 2),
                    recorded_at=now - timedelta(hours=hour),
                )
            )
    SystemHealth.objects.bulk_create(health)
    _bump(counts, "system_health", len(health))
    messages = []
    for _ in range(120):
        source, target = rng.sample(rows, 2)
        status = rng.choices(
            ["delivered", "sent", "failed", "timeout", "pending"], [20, 3, 2, 1, 1]
        )[0]
        sent = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
        messages.append(
            ComponentCommunication(
                source=source,
                target=target,
                message_type=rng.choice(["task.assigned", "build.finished", "review.requested"]),
                payload={"task": rng.randint(1, 500)},
                status=status,
                retry_count=rng.randint(0, 3) if status != "delivered" else 0,
                sent_at=sent,
                responded_at=sent + timedelta(milliseconds=rng.randint(20, 3000))
                if status == "delivered"
                else None,
            )
        )
    ComponentCommunication.objects.bulk_create(messages)
    _bump(counts, "communications", len(messages))
    learning = [
        LearningData(
            pattern_type=rng.choice(["retry_backoff", "test_selection", "review_routing"]),
            component=rng.choice(rows),
            context={DEMO_KEY: True, "sample": i},
            outcome=rng.choices(["success", "partial", "failure"], [6, 2, 1])[0],
            confidence=round(rng.uniform(0.3, 0.99), 2),
            effectiveness=round(rng.uniform(0.1, 0.95), 2),
        )
        for i in range(40)
    ]
    LearningData.objects.bulk_create(learning)
    _bump(counts, "learning_data", len(learning))
