from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Upper

from apps.audit.triggers import audit_triggers
from apps.core.fields import JSONField
from apps.core.models import TimeStampedModel, choices_check
from apps.pg import triggers


class TemplateType(models.TextChoices):
    CODE_PATTERN = "code_pattern", "Code pattern"
    DEPLOYMENT = "deployment", "Deployment"
    TEST = "test", "Test"
    WORKFLOW = "workflow", "Workflow"
    DOCUMENTATION = "documentation", "Documentation"
    CONFIGURATION = "configuration", "Configuration"
    PROMPT = "prompt", "Prompt"


class Template(TimeStampedModel):
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=TemplateType)
    category = models.CharField(max_length=100, blank=True, default="")
    description = models.TextField(blank=True, default="")
    content = JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    version = models.CharField(max_length=32, default="1.0.0")
    is_active = models.BooleanField(default=True)
    usage_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["name", "type", "-version"]
        triggers = [triggers.set_updated_at(), *audit_triggers()]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "type", "version"], name="template_name_type_version_unique"
            ),
            choices_check("type", TemplateType, "template_type_valid"),
            models.CheckConstraint(
                condition=models.Q(success_count__lte=models.F("usage_count"))
                & models.Q(failure_count__lte=models.F("usage_count")),
                name="template_outcomes_within_usage",
            ),
        ]
        indexes = [
            models.Index(fields=["type", "category"], name="template_type_category_idx"),
            GinIndex(fields=["tags"], name="template_tags_gin"),
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="template_name_trgm"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type} {self.version})"

    @property
    def success_rate(self) -> float | None:
        """Share of recorded outcomes that succeeded, 0-100; None before any outcome."""
        outcomes = self.success_count + self.failure_count
        return None if outcomes == 0 else round(100.0 * self.success_count / outcomes, 2)
