from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.core.services import database_error_message, require_choice, validated_save
from apps.pg.retry import retry_on_serialization_failure
from apps.workflows.models import Workflow

from .models import TASK_TRANSITIONS, DependencyType, Task, TaskDependency, TaskStatus


@retry_on_serialization_failure
def task_create(
    *,
    workflow: Workflow,
    title: str,
    description: str = "",
    details: str = "",
    test_strategy: str = "",
    status: str = TaskStatus.PENDING,
    priority: int = 5,
    estimated_effort: Decimal | float | None = None,
    requirements: list[Any] | None = None,
    acceptance_criteria: list[Any] | None = None,
    assignee: str = "",
    parent: Task | None = None,
    external_key: str | None = None,
) -> Task:
    if parent is not None and parent.workflow_id != workflow.pk:
        raise ValidationError(
            f"Task {title!r}: parent task #{parent.pk} belongs to another workflow"
        )
    task = Task(
        workflow=workflow,
        parent=parent,
        external_key=external_key,
        title=(title or "").strip(),
        description=description,
        details=details,
        test_strategy=test_strategy,
        status=status,
        priority=priority,
        estimated_effort=estimated_effort,
        requirements=requirements or [],
        acceptance_criteria=acceptance_criteria or [],
        assignee=assignee,
    )
    return validated_save(task, label=f"Task {task.title!r}")


@retry_on_serialization_failure
def task_status_update(*, task: Task, status: str, actual_effort: Decimal | None = None) -> Task:
    """Move a task to `status`. The database enforces the transition table, sets or clears
    completed_at and rolls the workflow's progress up in the same transaction."""
    require_choice(status, TaskStatus, what=f"Task #{task.pk} {task.title!r}: status")
    fields: dict[str, Any] = {"status": status}
    if actual_effort is not None:
        fields["actual_effort"] = actual_effort
    try:
        with transaction.atomic():
            Task.objects.filter(pk=task.pk).update(**fields)
    except IntegrityError as exc:
        raise ValidationError(
            f"Task #{task.pk} {task.title!r}: {database_error_message(exc)}", code="transition"
        ) from exc
    task.refresh_from_db()
    return task


@retry_on_serialization_failure
def task_dependency_create(
    *, task: Task, depends_on: Task, type: str = DependencyType.BLOCKS
) -> TaskDependency:
    """`task` depends on `depends_on`. Self-loops, duplicates, cycles of any length and edges
    between projects are refused by the database; the error names the tasks. Under snapshot
    isolation a concurrent graph writer makes the database refuse the transaction (40001)
    rather than let a cycle through; it is re-run with a fresh snapshot."""
    require_choice(type, DependencyType, what="Dependency type")
    label = f"Dependency #{task.pk} {task.title!r} -> #{depends_on.pk} {depends_on.title!r}"
    dependency = TaskDependency(task=task, depends_on=depends_on, type=type)
    try:
        dependency.full_clean()
    except ValidationError as exc:
        raise ValidationError([f"{label}: {m}" for m in exc.messages]) from exc
    try:
        with transaction.atomic():
            dependency.save()
    except IntegrityError as exc:
        raise ValidationError(f"{label}: {database_error_message(exc)}", code="dependency") from exc
    return dependency


def task_status_choices(current: str) -> list[tuple[str, str]]:
    """The statuses a task in `current` may move to, `current` first: the same transition table
    the database trigger is built from, so the form never offers what the database refuses."""
    allowed = {current, *TASK_TRANSITIONS.get(current, ())}
    return [(value, label) for value, label in TaskStatus.choices if value in allowed]


def task_label(task: Task) -> str:
    """How a person names a task in a message: its external key, else its id."""
    return task.external_key or f"#{task.pk}"


@dataclass
class BulkOutcome:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (task label, reason)


@retry_on_serialization_failure
def task_bulk_status_update(*, tasks: Iterable[Task], status: str) -> BulkOutcome:
    """Move each task to `status` through the same database rule as a single change.

    One savepoint per row: a row the trigger refuses is rolled back on its own (status,
    completed_at and the workflow roll-up together) and reported by key with the database's
    reason; every other row is changed completely. No row is ever half-applied."""
    require_choice(status, TaskStatus, what="Bulk status")
    outcome = BulkOutcome()
    for task in sorted(tasks, key=lambda t: t.pk):  # one lock order for concurrent bulk edits
        label = task_label(task)
        if task.status == status:
            outcome.unchanged.append(label)
            continue
        try:
            with transaction.atomic():
                Task.objects.filter(pk=task.pk).update(status=status)
        except IntegrityError as exc:
            outcome.refused.append((label, database_error_message(exc)))
        else:
            outcome.changed.append(label)
    return outcome


@retry_on_serialization_failure
def task_bulk_priority_update(*, task_ids: Iterable[int], priority: int) -> int:
    """Set the priority of every task in `task_ids` in one statement (all or nothing)."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 10:
        raise ValidationError(f"Bulk priority: {priority!r} is not a whole number from 0 to 10")
    try:
        return Task.objects.filter(pk__in=list(task_ids)).update(priority=priority)
    except IntegrityError as exc:
        raise ValidationError(f"Bulk priority: {database_error_message(exc)}") from exc
