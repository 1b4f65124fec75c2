from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.services import database_error_message, require_choice, validated_save
from apps.projects.models import Project

from .models import Workflow, WorkflowPhase, WorkflowStatus
from .selectors import workflow_analytics


def _node_count(definition: dict[str, Any]) -> int:
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    return len(nodes) if isinstance(nodes, list) else 0


@transaction.atomic
def workflow_create(
    *,
    project: Project,
    name: str,
    description: str = "",
    requirements: str = "",
    phase: str = WorkflowPhase.PLANNING,
    status: str = WorkflowStatus.DRAFT,
    definition: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    external_key: str | None = None,
    legacy: dict[str, Any] | None = None,
) -> Workflow:
    definition = definition or {}
    workflow = Workflow(
        project=project,
        name=(name or "").strip(),
        description=description,
        requirements=requirements,
        phase=phase,
        status=status,
        definition=definition,
        node_count=_node_count(definition),
        tags=tags or [],
        external_key=external_key,
        legacy=legacy or {},
    )
    return validated_save(workflow)


# What code may change with workflow_update; status and phase go through workflow_status_update,
# counters and progress belong to the triggers.
UPDATABLE_FIELDS = frozenset(
    {"name", "description", "requirements", "definition", "tags", "external_key", "legacy"}
)


def workflow_changes(*, workflow: Workflow, **values: Any) -> dict[str, Any]:
    """The values that differ from the workflow's, normalised as workflow_create stores them
    (name stripped, node_count following the definition); {} means nothing to write."""
    unknown = set(values) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"workflow_update cannot set {sorted(unknown)}")
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
    if "definition" in values:
        values["definition"] = values["definition"] or {}
        values["node_count"] = _node_count(values["definition"])
    return {field: value for field, value in values.items() if getattr(workflow, field) != value}


@transaction.atomic
def workflow_update(*, workflow: Workflow, **values: Any) -> list[str]:
    """Set `values` on the workflow, validated like a create, and save only the fields that
    changed; returns them (empty: nothing was written)."""
    changes = workflow_changes(workflow=workflow, **values)
    if not changes:
        return []
    for field, value in changes.items():
        setattr(workflow, field, value)
    validated_save(workflow, update_fields=[*changes, "updated_at"])
    return list(changes)


@transaction.atomic
def workflow_status_update(
    *, workflow: Workflow, status: str, phase: str | None = None
) -> Workflow:
    """Move a workflow to `status`; the database refuses transitions not in the table."""
    require_choice(status, WorkflowStatus, what=f"Workflow {workflow.name!r}: status")
    if phase is not None:
        require_choice(phase, WorkflowPhase, what=f"Workflow {workflow.name!r}: phase")
    fields = {"status": status, **({"phase": phase} if phase is not None else {})}
    try:
        with transaction.atomic():
            Workflow.objects.filter(pk=workflow.pk).update(**fields)
    except IntegrityError as exc:
        raise ValidationError(
            f"Workflow {workflow.name!r}: {database_error_message(exc)}", code="transition"
        ) from exc
    workflow.refresh_from_db()
    return workflow


@transaction.atomic
def workflow_analytics_update(*, workflow: Workflow) -> dict[str, Any]:
    """Compute the workflow's analytics and store them."""
    analytics = workflow_analytics(workflow=workflow)
    Workflow.objects.filter(pk=workflow.pk).update(metrics=analytics)
    workflow.metrics = analytics
    return analytics
