from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Lower, Upper

from apps.audit.triggers import audit_triggers
from apps.core.fields import JSONField
from apps.core.models import TimeStampedModel, choices_check
from apps.pg import triggers


class ProjectStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    ARCHIVED = "archived", "Archived"


class Project(TimeStampedModel):
    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    repository_url = models.URLField(max_length=500, blank=True, default="")
    github_repo_id = models.BigIntegerField(null=True, blank=True)
    linear_team_id = models.CharField(max_length=100, blank=True, default="")
    settings = JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=ProjectStatus, default=ProjectStatus.ACTIVE)

    class Meta:
        ordering = ["name"]
        triggers = [triggers.set_updated_at(), *audit_triggers()]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="project_name_ci_unique",
                violation_error_message="A project with this name already exists (names are compared ignoring case).",
            ),
            choices_check("status", ProjectStatus, "project_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status"], name="project_status_idx"),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="project_name_trgm"),
        ]

    def __str__(self) -> str:
        return self.name
