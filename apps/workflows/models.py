import pgtrigger
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from apps.audit.triggers import audit_triggers
from apps.core.fields import JSONField
from apps.core.models import TimeStampedModel, choices_check, range_check
from apps.pg import triggers
from apps.tasks import rules as task_rules


class WorkflowStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class WorkflowPhase(models.TextChoices):
    PLANNING = "planning", "Planning"
    DEVELOPMENT = "development", "Development"
    TESTING = "testing", "Testing"
    REVIEW = "review", "Review"
    DEPLOYMENT = "deployment", "Deployment"
    DONE = "done", "Done"


# Allowed status changes, enforced by a trigger (README: "Status transitions").
WORKFLOW_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("active", "completed", "cancelled"),
    "active": ("paused", "completed", "failed", "cancelled"),
    "paused": ("active", "failed", "cancelled"),
    "completed": ("active",),
    "failed": ("active", "cancelled"),
    "cancelled": ("draft", "active"),
}
TERMINAL_STATUSES = ("completed", "failed", "cancelled")

# started_at on first activation; completed_at while in a terminal status, cleared on leaving it.
_WORKFLOW_TIMESTAMPS = f"""
IF NEW.status <> 'draft' AND NEW.started_at IS NULL THEN
    NEW.started_at := now();
END IF;
IF NEW.status IN {TERMINAL_STATUSES!r} THEN
    NEW.completed_at := COALESCE(NEW.completed_at, now());
ELSE
    NEW.completed_at := NULL;
END IF;
"""


class Workflow(TimeStampedModel):
    # Indexed by (project, status) and the unique (project, name), which lead with it.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="workflows", db_index=False
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    requirements = models.TextField(blank=True, default="")
    phase = models.CharField(max_length=20, choices=WorkflowPhase, default=WorkflowPhase.PLANNING)
    status = models.CharField(max_length=20, choices=WorkflowStatus, default=WorkflowStatus.DRAFT)
    # Maintained by the database from the workflow's tasks (tasks.Task roll-up triggers).
    progress = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    tasks_total = models.IntegerField(default=0, help_text="Tasks not cancelled.")
    tasks_done = models.IntegerField(default=0)
    # n8n-style definition: {"nodes": [...], "connections": {...}}.
    definition = JSONField(default=dict, blank=True)
    node_count = models.PositiveIntegerField(default=0)
    tags = JSONField(default=list, blank=True)
    metrics = JSONField(default=dict, blank=True)
    # The file store's key for an imported workflow ("n8n:<export id>", "file:<path>"); natural key
    # for re-imports. Task Master tags are keyed by name.
    external_key = models.CharField(max_length=255, null=True, blank=True)
    # What the import needs to write the source back as read: tag metadata and key order, the
    # legacy file's top-level keys, an n8n export's other keys.
    legacy = JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        triggers = [
            triggers.set_updated_at(),
            triggers.status_transitions(
                name="workflow_status_transition",
                transitions=WORKFLOW_TRANSITIONS,
                entity="workflow",
                label_column="name",
                extra_body=_WORKFLOW_TIMESTAMPS,
            ),
            pgtrigger.Trigger(
                name="workflow_move_keeps_relations",
                when=pgtrigger.After,
                operation=pgtrigger.UpdateOf("project_id"),
                condition=pgtrigger.AnyChange("project"),
                declare=[("conflict", "text")],
                func=triggers.ModelFunc(task_rules.WORKFLOW_MOVE_KEEPS_RELATIONS),
            ),
            *audit_triggers(),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="workflow_name_unique_in_project",
                violation_error_message="This project already has a workflow with this name.",
            ),
            models.UniqueConstraint(
                fields=["project", "external_key"],
                condition=models.Q(external_key__isnull=False),
                name="workflow_external_key_unique",
            ),
            choices_check("status", WorkflowStatus, "workflow_status_valid"),
            choices_check("phase", WorkflowPhase, "workflow_phase_valid"),
            range_check("progress", 0, 100, "workflow_progress_0_100"),
            models.CheckConstraint(
                condition=models.Q(tasks_done__gte=0)
                & models.Q(tasks_done__lte=models.F("tasks_total")),
                name="workflow_task_counters_consistent",
            ),
            models.CheckConstraint(
                condition=models.Q(completed_at__isnull=True)
                | models.Q(started_at__isnull=True)
                | models.Q(completed_at__gte=models.F("started_at")),
                name="workflow_completed_after_started",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status"], name="workflow_project_status_idx"),
            models.Index(fields=["status", "-created_at"], name="workflow_status_created_idx"),
            GinIndex(
                fields=["definition"], name="workflow_definition_gin", opclasses=["jsonb_path_ops"]
            ),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="workflow_name_trgm"),
        ]

    def __str__(self) -> str:
        return self.name
