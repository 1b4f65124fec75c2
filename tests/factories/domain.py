"""Factories for the core domain apps (projects, workflows, tasks, templates, KB, components)."""

import factory
from django.utils import timezone

from apps.blueprints.models import Template, TemplateType
from apps.components.models import (
    Component,
    ComponentCommunication,
    ComponentType,
    HealthStatus,
    LearningData,
    Outcome,
    SystemHealth,
)
from apps.knowledge.models import Article
from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    repository_url = factory.Sequence(lambda n: f"https://github.com/example/project-{n}")


class WorkflowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workflow

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Workflow {n}")


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    workflow = factory.SubFactory(WorkflowFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    priority = 5


class TaskDependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskDependency

    task = factory.SubFactory(TaskFactory)
    depends_on = factory.SubFactory(TaskFactory, workflow=factory.SelfAttribute("..task.workflow"))


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Template

    name = factory.Sequence(lambda n: f"template-{n}")
    type = TemplateType.CODE_PATTERN
    content = factory.LazyFunction(lambda: {"body": "print('hello')"})
    tags = factory.LazyFunction(lambda: ["python"])


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Article {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    content = "Deploying with blue-green releases keeps downtime at zero."


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component

    name = factory.Sequence(lambda n: f"component-{n}")
    type = ComponentType.SERVICE


class ComponentCommunicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComponentCommunication

    source = factory.SubFactory(ComponentFactory)
    target = factory.SubFactory(ComponentFactory)
    message_type = "code_generation_requested"


class SystemHealthFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemHealth

    component = factory.SubFactory(ComponentFactory)
    status = HealthStatus.HEALTHY
    cpu_usage = 25.0
    recorded_at = factory.LazyFunction(timezone.now)


class LearningDataFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningData

    pattern_type = "retry_backoff"
    outcome = Outcome.SUCCESS
    confidence = 0.8


def task_admin_form(**fields) -> dict:
    """A POST body for the task admin's add/change form: empty inlines, blank optional fields,
    then `fields` (workflow, title, status, …)."""
    return {
        "external_key": "",
        "status": "pending",
        "priority": 5,
        "assignee": "",
        "description": "",
        "details": "",
        "test_strategy": "",
        "estimated_effort": "",
        "actual_effort": "",
        "requirements": "[]",
        "acceptance_criteria": "[]",
        "legacy": "{}",
        "subtasks-TOTAL_FORMS": 0,
        "subtasks-INITIAL_FORMS": 0,
        "dependencies-TOTAL_FORMS": 0,
        "dependencies-INITIAL_FORMS": 0,
        **fields,
    }
