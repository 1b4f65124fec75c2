"""Component registry and telemetry: components, health samples, messages, learning data."""

from django.db import models

from apps.core.fields import JSONField
from apps.core.models import TimeStampedModel, choices_check, range_check
from apps.pg import triggers


class ComponentType(models.TextChoices):
    ORCHESTRATOR = "orchestrator", "Orchestrator"
    GENERATOR = "generator", "Generator"
    VALIDATOR = "validator", "Validator"
    INTEGRATION = "integration", "Integration"
    AGENT = "agent", "Agent"
    SERVICE = "service", "Service"


class HealthStatus(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    UNHEALTHY = "unhealthy", "Unhealthy"
    UNKNOWN = "unknown", "Unknown"


class CommunicationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timed out"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial"
    FAILURE = "failure", "Failure"


class Component(TimeStampedModel):
    name = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=20, choices=ComponentType)
    version = models.CharField(max_length=32, blank=True, default="")
    health_status = models.CharField(
        max_length=20, choices=HealthStatus, default=HealthStatus.UNKNOWN
    )
    capabilities = JSONField(default=dict, blank=True)
    configuration = JSONField(default=dict, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        triggers = [triggers.set_updated_at()]
        constraints = [
            choices_check("type", ComponentType, "component_type_valid"),
            choices_check("health_status", HealthStatus, "component_health_valid"),
        ]
        indexes = [models.Index(fields=["health_status"], name="component_health_idx")]

    def __str__(self) -> str:
        return self.name


class ComponentCommunication(TimeStampedModel):
    source = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="sent_messages")
    target = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="received_messages"
    )
    message_type = models.CharField(max_length=100)
    payload = JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=CommunicationStatus, default=CommunicationStatus.PENDING
    )
    retry_count = models.PositiveSmallIntegerField(default=0)
    timeout_ms = models.PositiveIntegerField(default=30_000)
    response = JSONField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        triggers = [triggers.set_updated_at()]
        constraints = [
            choices_check("status", CommunicationStatus, "communication_status_valid"),
            range_check("retry_count", 0, 100, "communication_retry_count_range"),
            models.CheckConstraint(
                condition=models.Q(timeout_ms__gt=0), name="communication_timeout_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="communication_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}→{self.target_id} {self.message_type}"


class SystemHealth(models.Model):
    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="health_checks", db_index=False
    )
    status = models.CharField(max_length=20, choices=HealthStatus)
    cpu_usage = models.FloatField(null=True, blank=True)
    memory_usage = models.FloatField(null=True, blank=True)
    disk_usage = models.FloatField(null=True, blank=True)
    response_time_ms = models.FloatField(null=True, blank=True)
    error_rate = models.FloatField(null=True, blank=True)
    details = JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "system health"
        ordering = ["-recorded_at"]
        constraints = [
            choices_check("status", HealthStatus, "system_health_status_valid"),
            range_check("cpu_usage", 0, 100, "system_health_cpu_pct", nullable=True),
            range_check("memory_usage", 0, 100, "system_health_memory_pct", nullable=True),
            range_check("disk_usage", 0, 100, "system_health_disk_pct", nullable=True),
            range_check("error_rate", 0, 100, "system_health_error_rate_pct", nullable=True),
            models.CheckConstraint(
                condition=models.Q(response_time_ms__isnull=True)
                | models.Q(response_time_ms__gte=0),
                name="system_health_response_time_non_negative",
            ),
        ]
        indexes = [
            # Leads with component: also the FK's supporting index.
            models.Index(fields=["component", "-recorded_at"], name="system_health_component_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.component_id} {self.status} @ {self.recorded_at:%Y-%m-%d %H:%M}"


class LearningData(TimeStampedModel):
    pattern_type = models.CharField(max_length=100)
    component = models.ForeignKey(
        Component, on_delete=models.SET_NULL, null=True, blank=True, related_name="learning_data"
    )
    context = JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome)
    confidence = models.FloatField()
    effectiveness = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "learning data"
        ordering = ["-created_at"]
        triggers = [triggers.set_updated_at()]
        constraints = [
            choices_check("outcome", Outcome, "learning_outcome_valid"),
            range_check("confidence", 0, 1, "learning_confidence_0_1"),
            range_check("effectiveness", 0, 1, "learning_effectiveness_0_1", nullable=True),
        ]
        indexes = [
            models.Index(fields=["pattern_type", "outcome"], name="learning_pattern_outcome_idx")
        ]

    def __str__(self) -> str:
        return f"{self.pattern_type} ({self.outcome})"
