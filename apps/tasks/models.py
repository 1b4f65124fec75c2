import pgtrigger
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from apps.audit.triggers import audit_triggers
from apps.core.fields import JSONField
from apps.core.models import TimeStampedModel, choices_check, range_check
from apps.pg import triggers

from . import rules


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    REVIEW = "review", "Review"
    DONE = "done", "Done"
    DEFERRED = "deferred", "Deferred"
    CANCELLED = "cancelled", "Cancelled"
    BLOCKED = "blocked", "Blocked"


class DependencyType(models.TextChoices):
    BLOCKS = "blocks", "Blocks"
    REQUIRES = "requires", "Requires"
    RELATES_TO = "relates_to", "Relates to"


# Allowed status changes, enforced by a trigger (README: "Status transitions").
TASK_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("in_progress", "review", "done", "blocked", "deferred", "cancelled"),
    "in_progress": ("pending", "review", "done", "blocked", "deferred", "cancelled"),
    "review": ("pending", "in_progress", "done", "blocked", "cancelled"),
    "blocked": ("pending", "in_progress", "deferred", "cancelled"),
    "deferred": ("pending", "in_progress", "blocked", "cancelled"),
    "done": ("pending", "in_progress", "review"),
    "cancelled": ("pending",),
}

_TASK_COMPLETED_AT = """
IF NEW.status = 'done' THEN
    NEW.completed_at := COALESCE(NEW.completed_at, now());
ELSE
    NEW.completed_at := NULL;
END IF;
"""
# completed_at disagrees with the status: the only rows the trigger above has work on.
_TASK_COMPLETED_AT_OFF = "(NEW.status = 'done') = (NEW.completed_at IS NULL)"

# Workflow roll-up: per statement, add each workflow's delta of (not cancelled, done) tasks to its
# counters and derive progress and status from them; O(changed rows), not O(workflow size).
_ROLLUP_UPDATE = """
UPDATE {tables[workflows.Workflow]} w SET
    tasks_total = w.tasks_total + d.total,
    tasks_done = w.tasks_done + d.done,
    progress = CASE WHEN w.tasks_total + d.total <= 0 THEN 0
                    ELSE round(100.0 * (w.tasks_done + d.done) / (w.tasks_total + d.total), 2) END,
    status = CASE
        WHEN w.status IN ('draft', 'active') AND w.tasks_total + d.total > 0
             AND w.tasks_done + d.done = w.tasks_total + d.total THEN 'completed'
        WHEN w.status = 'completed' AND w.tasks_done + d.done < w.tasks_total + d.total THEN 'active'
        WHEN w.status = 'draft' AND d.started THEN 'active'
        ELSE w.status END
FROM delta d
WHERE w.id = d.workflow_id AND (d.total <> 0 OR d.done <> 0 OR (d.started AND w.status = 'draft'));
"""


def _rollup_rows(alias: str, *, removed: bool) -> str:
    """Per-row contribution of a transition table: +1/-1 to (not cancelled, done)."""
    sign = "-" if removed else ""
    started = "false" if removed else f"{alias}.status IN ('in_progress', 'review', 'done')"
    return (
        f"SELECT {alias}.workflow_id, {sign}({alias}.status <> 'cancelled')::int AS total,"
        f" {sign}({alias}.status = 'done')::int AS done, {started} AS started"
    )


def _rollup_trigger(name: str, operation, referencing, sources: list[str]) -> pgtrigger.Trigger:
    rows = " UNION ALL ".join(sources)
    return triggers.after_statement(
        name,
        operation,
        referencing,
        "WITH delta AS (SELECT workflow_id, sum(total)::int AS total, sum(done)::int AS done,"
        f" bool_or(started) AS started FROM ({rows}) x GROUP BY workflow_id) " + _ROLLUP_UPDATE,
    )


_NEW = _rollup_rows("n", removed=False) + " FROM new_rows n"
_OLD = _rollup_rows("o", removed=True) + " FROM old_rows o"


class Task(TimeStampedModel):
    # Indexed by the (workflow, status, priority) index below, which leads with it.
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="subtasks"
    )
    # The legacy file store's id ("5", or "5.2" for subtask 2 of task 5); natural key for imports.
    external_key = models.CharField(max_length=64, null=True, blank=True)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    details = models.TextField(blank=True, default="")
    test_strategy = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=TaskStatus, default=TaskStatus.PENDING)
    priority = models.PositiveSmallIntegerField(default=5)
    estimated_effort = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    actual_effort = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    requirements = JSONField(default=list, blank=True)
    acceptance_criteria = JSONField(default=list, blank=True)
    assignee = models.CharField(max_length=255, blank=True, default="")
    # Fields of an imported record that have no column, kept verbatim for a faithful export.
    legacy = JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workflow_id", "-priority", "id"]
        triggers = [
            triggers.set_updated_at(),
            *triggers.status_transitions_derived(
                name="task_status_transition",
                transitions=TASK_TRANSITIONS,
                entity="task",
                label_column="title",
                derive=_TASK_COMPLETED_AT,
                derive_when=_TASK_COMPLETED_AT_OFF,
            ),
            _rollup_trigger(
                "workflow_rollup_insert",
                pgtrigger.Insert,
                pgtrigger.Referencing(new="new_rows"),
                [_NEW],
            ),
            _rollup_trigger(
                "workflow_rollup_update",
                pgtrigger.Update,
                pgtrigger.Referencing(old="old_rows", new="new_rows"),
                [_NEW, _OLD],
            ),
            _rollup_trigger(
                "workflow_rollup_delete",
                pgtrigger.Delete,
                pgtrigger.Referencing(old="old_rows"),
                [_OLD],
            ),
            pgtrigger.Trigger(
                name="subtask_parent_same_project",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                condition=pgtrigger.Q(new__parent__isnull=False),
                declare=rules.SUBTASK_SAME_PROJECT_DECLARE,
                func=triggers.ModelFunc(rules.SUBTASK_SAME_PROJECT),
            ),
            pgtrigger.Trigger(
                name="task_move_keeps_project",
                when=pgtrigger.After,
                operation=pgtrigger.UpdateOf("parent_id", "workflow_id"),
                condition=pgtrigger.AnyChange("parent", "workflow"),
                declare=rules.SUBTASK_SAME_PROJECT_DECLARE,
                func=triggers.ModelFunc(rules.SUBTASK_SAME_PROJECT),
            ),
            *audit_triggers(),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "external_key"], name="task_external_key_unique"
            ),
            choices_check("status", TaskStatus, "task_status_valid"),
            range_check("priority", 0, 10, "task_priority_0_10"),
            models.CheckConstraint(
                condition=models.Q(estimated_effort__isnull=True)
                | models.Q(estimated_effort__gte=0),
                name="task_estimated_effort_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(actual_effort__isnull=True) | models.Q(actual_effort__gte=0),
                name="task_actual_effort_non_negative",
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="task_not_own_parent"
            ),
        ]
        indexes = [
            # The usual reads: tasks of a workflow by status and priority; global queues.
            models.Index(
                fields=["workflow", "status", "-priority"], name="task_workflow_status_prio_idx"
            ),
            models.Index(
                fields=["status", "-priority", "created_at"], name="task_status_prio_created_idx"
            ),
            models.Index(fields=["assignee", "status"], name="task_assignee_status_idx"),
            # The admin's sorts (bench/admin.py): a page is 50 rows of an index, not a sort of all.
            models.Index(fields=["priority", "id"], name="task_priority_id_idx"),
            # the list filtered by status, newest first: a range, not a walk of the pk
            models.Index(fields=["status", "id"], name="task_status_id_idx"),
            models.Index(fields=["updated_at", "id"], name="task_updated_id_idx"),
            # The admin's search by external key ("15.1") across workflows.
            models.Index(fields=["external_key"], name="task_external_key_idx"),
            GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="task_title_trgm"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class TaskDependency(models.Model):
    # Indexed by the unique (task, depends_on) constraint, which leads with it.
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="dependencies", db_index=False
    )
    depends_on = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="dependents")
    type = models.CharField(max_length=20, choices=DependencyType, default=DependencyType.BLOCKS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "task dependencies"
        triggers = [
            pgtrigger.Trigger(
                name="no_dependency_cycles",
                when=pgtrigger.After,
                operation=pgtrigger.Insert | pgtrigger.UpdateOf("task_id", "depends_on_id"),
                declare=rules.NO_CYCLES_DECLARE,
                func=triggers.ModelFunc(rules.NO_CYCLES),
            ),
            *audit_triggers(),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "depends_on"],
                name="task_dependency_unique_pair",
                violation_error_message="This dependency already exists.",
            ),
            models.CheckConstraint(
                condition=~models.Q(task=models.F("depends_on")),
                name="task_dependency_not_self",
                violation_error_message="A task cannot depend on itself.",
            ),
            choices_check("type", DependencyType, "task_dependency_type_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} → {self.depends_on_id} ({self.type})"


class DependencyGraph(models.Model):
    """One row per project whose dependency graph was written: its version, bumped (and so
    row-locked) once by every transaction that adds or re-points a dependency in the project, or
    moves a task or workflow across projects, before the rules check the graph (see rules.py).
    A table of its own: no audit or updated_at triggers fire on the bump."""

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0)
    # txid_current() of the last transaction that bumped the row: later edges of the same
    # transaction skip the bump.
    last_txid = models.BigIntegerField(default=0)

    class Meta:
        db_table = rules.GRAPH_TABLE
        verbose_name = "dependency graph version"

    def __str__(self) -> str:
        return f"project {self.project_id} graph v{self.version}"
