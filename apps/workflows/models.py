from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from apps.core.models import TimeStampedModel, choices_check, range_check


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
    progress = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    # n8n-style definition: {"nodes": [...], "connections": {...}} (seed 001).
    definition = models.JSONField(default=dict, blank=True)
    node_count = models.PositiveIntegerField(default=0)
    tags = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="workflow_name_unique_in_project",
                violation_error_message="This project already has a workflow with this name.",
            ),
            choices_check("status", WorkflowStatus, "workflow_status_valid"),
            choices_check("phase", WorkflowPhase, "workflow_phase_valid"),
            range_check("progress", 0, 100, "workflow_progress_0_100"),
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
