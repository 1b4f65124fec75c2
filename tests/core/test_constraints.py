"""Every CHECK/UNIQUE rule of the core domain is enforced by PostgreSQL itself."""

import pytest
from django.db import IntegrityError, transaction

from tests.factories import domain as f

pytestmark = pytest.mark.django_db


def _build(factory, **overrides):
    return lambda: factory(**overrides)


CASES = [
    (
        "project_name_ci_unique",
        lambda: (f.ProjectFactory(name="Apollo"), f.ProjectFactory(name="APOLLO")),
    ),
    ("project_status_valid", _build(f.ProjectFactory, status="sleeping")),
    ("workflow_status_valid", _build(f.WorkflowFactory, status="nope")),
    ("workflow_phase_valid", _build(f.WorkflowFactory, phase="nope")),
    ("workflow_progress_0_100", _build(f.WorkflowFactory, progress=101)),
    ("task_status_valid", _build(f.TaskFactory, status="waiting")),
    ("task_priority_0_10", _build(f.TaskFactory, priority=11)),
    ("task_estimated_effort_non_negative", _build(f.TaskFactory, estimated_effort=-1)),
    ("task_actual_effort_non_negative", _build(f.TaskFactory, actual_effort=-1)),
    (
        "task_external_key_unique",
        lambda: (
            lambda w: (
                f.TaskFactory(workflow=w, external_key="5"),
                f.TaskFactory(workflow=w, external_key="5"),
            )
        )(f.WorkflowFactory()),
    ),
    (
        "task_dependency_not_self",
        lambda: (lambda t: f.TaskDependencyFactory(task=t, depends_on=t))(f.TaskFactory()),
    ),
    (
        "task_dependency_unique_pair",
        lambda: (
            lambda d: f.TaskDependencyFactory(task=d.task, depends_on=d.depends_on, type="requires")
        )(f.TaskDependencyFactory()),
    ),
    ("task_dependency_type_valid", _build(f.TaskDependencyFactory, type="likes")),
    ("template_type_valid", _build(f.TemplateFactory, type="poem")),
    (
        "template_name_type_version_unique",
        lambda: (
            f.TemplateFactory(name="x", version="1"),
            f.TemplateFactory(name="x", version="1"),
        ),
    ),
    ("template_outcomes_within_usage", _build(f.TemplateFactory, usage_count=1, success_count=2)),
    ("article_content_type_valid", _build(f.ArticleFactory, content_type="pdf")),
    ("article_relevance_0_1", _build(f.ArticleFactory, relevance_score=1.5)),
    (
        "article_slug_unique_in_project",
        lambda: (f.ArticleFactory(slug="same"), f.ArticleFactory(slug="same")),
    ),
    ("component_type_valid", _build(f.ComponentFactory, type="toaster")),
    ("component_health_valid", _build(f.ComponentFactory, health_status="sick")),
    ("communication_status_valid", _build(f.ComponentCommunicationFactory, status="lost")),
    ("communication_timeout_positive", _build(f.ComponentCommunicationFactory, timeout_ms=0)),
    ("system_health_cpu_pct", _build(f.SystemHealthFactory, cpu_usage=100.5)),
    ("system_health_memory_pct", _build(f.SystemHealthFactory, memory_usage=-1)),
    ("system_health_error_rate_pct", _build(f.SystemHealthFactory, error_rate=101)),
    (
        "system_health_response_time_non_negative",
        _build(f.SystemHealthFactory, response_time_ms=-5),
    ),
    ("learning_confidence_0_1", _build(f.LearningDataFactory, confidence=1.2)),
    ("learning_effectiveness_0_1", _build(f.LearningDataFactory, effectiveness=-0.1)),
    ("learning_outcome_valid", _build(f.LearningDataFactory, outcome="maybe")),
]


@pytest.mark.parametrize(("constraint", "make"), CASES, ids=[c[0] for c in CASES])
def test_violating_write_is_refused_by_the_database(constraint, make):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        make()
    assert constraint in str(excinfo.value)


def test_every_fk_of_the_core_domain_has_a_leading_index():
    """FK columns must lead some index (deletes/cascades and joins would seq-scan otherwise)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, a.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
              AND c.conrelid::regclass::text ~ '^(projects|workflows|tasks|blueprints|knowledge|components)_'
              AND NOT EXISTS (
                  SELECT 1 FROM pg_index i
                  WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
              )
            """
        )
        missing = cursor.fetchall()
    assert missing == []
