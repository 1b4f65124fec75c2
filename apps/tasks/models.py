from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from apps.core.models import TimeStampedModel, choices_check, range_check


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
    requirements = models.JSONField(default=list, blank=True)
    acceptance_criteria = models.JSONField(default=list, blank=True)
    assignee = models.CharField(max_length=255, blank=True, default="")
    # Fields of an imported record that have no column, kept verbatim for a faithful export.
    legacy = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workflow_id", "-priority", "id"]
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
            # Seed 004 query shapes: tasks of a workflow by status and priority; global queues.
            models.Index(
                fields=["workflow", "status", "-priority"], name="task_workflow_status_prio_idx"
            ),
            models.Index(
                fields=["status", "-priority", "created_at"], name="task_status_prio_created_idx"
            ),
            models.Index(fields=["assignee", "status"], name="task_assignee_status_idx"),
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
