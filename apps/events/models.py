"""System events and performance metrics: append-mostly time series, RANGE-partitioned.

References to projects/workflows/tasks are FKs *from* the partitioned table without a database
constraint (`db_constraint=False`, `DO_NOTHING`): the log outlives the rows it talks about,
inserts take no `FOR KEY SHARE` lock on hot task rows, and nothing references *into* these
tables (a foreign key to a partitioned table blocks dropping/detaching partitions).

Each partitioned model has a read-only unmanaged "shadow" (`…Row`, same table, single `id` pk)
because the Django admin refuses to register a model with a composite primary key.
"""

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod

from apps.core.fields import JSONField
from apps.core.models import choices_check
from apps.pg.partitioning.fields import BigIdentityField

from . import rollup


class Severity(models.TextChoices):
    DEBUG = "debug", "Debug"
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"


def _ref(to: str, related_name: str = "+") -> models.ForeignKey:
    return models.ForeignKey(
        to,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name=related_name,
    )


class EventColumns(models.Model):
    event_type = models.CharField(max_length=100)
    severity = models.CharField(max_length=10, choices=Severity, default=Severity.INFO)
    source_component = models.CharField(max_length=100)
    target_component = models.CharField(max_length=100, blank=True, default="")
    project = _ref("projects.Project")
    workflow = _ref("workflows.Workflow")
    task = _ref("tasks.Task")
    payload = JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=100, blank=True, default="")
    trace_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.event_type} ({self.severity}) from {self.source_component}"


class Event(EventColumns, PostgresPartitionedModel):
    """Monthly partitions: ~10^5-10^6 events/month, read as "last hours/days" and by workflow."""

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    pk = models.CompositePrimaryKey("created_at", "id")
    id = BigIdentityField(editable=False)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [choices_check("severity", Severity, "event_severity_valid")]
        # A write into an hour the roll-up has closed marks that hour for recounting.
        triggers = [
            rollup.mark_hours_trigger(
                "event_count_mark_insert", pgtrigger.Insert, pgtrigger.Referencing(new="new_rows")
            ),
            rollup.mark_hours_trigger(
                "event_count_mark_update",
                pgtrigger.Update,
                pgtrigger.Referencing(old="old_rows", new="new_rows"),
            ),
            rollup.mark_hours_trigger(
                "event_count_mark_delete", pgtrigger.Delete, pgtrigger.Referencing(old="old_rows")
            ),
        ]
        indexes = [
            # events of a workflow by type, newest first
            models.Index(
                fields=["workflow", "event_type", "-created_at"], name="event_workflow_type_idx"
            ),
            models.Index(fields=["project", "-created_at"], name="event_project_created_idx"),
            models.Index(fields=["task", "-created_at"], name="event_task_created_idx"),
            models.Index(
                fields=["correlation_id"],
                name="event_correlation_idx",
                condition=~models.Q(correlation_id=""),
            ),
            models.Index(
                fields=["trace_id"], name="event_trace_idx", condition=~models.Q(trace_id="")
            ),
            models.Index(
                fields=["severity", "-created_at"],
                name="event_problems_idx",
                condition=models.Q(severity__in=["error", "critical"]),
            ),
            # the admin's exact search names the type beside the ids: without it the OR scans
            # the whole window (a correlation id over 10M events: 57 ms, three times a page)
            models.Index(fields=["event_type", "-created_at"], name="event_type_created_idx"),
            # lookups by id alone (admin change page): one probe per partition
            models.Index(fields=["id"], name="event_id_idx"),
        ]


class EventRow(EventColumns):
    """Read-only admin view of `events_event` (unmanaged shadow, no migration DDL)."""

    id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "events_event"
        verbose_name = "event"
        ordering = ["-created_at"]


class EventHourCount(models.Model):
    """Events per UTC hour and severity, every project's together: the events chart's closed
    hours (apps.events.rollup). Scoped staff's charts are counted live from their own rows."""

    hour = models.DateTimeField()
    severity = models.CharField(max_length=10, choices=Severity)
    events = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "severity"], name="event_hour_count_key"),
            choices_check("severity", Severity, "event_hour_count_severity_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.severity}: {self.events}"


class EventCountRollup(models.Model):
    """The roll-up's one row: EventHourCount holds every hour in [rolled_from, rolled_through)
    except those in EventCountDirtyHour; the chart counts everything else live."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    rolled_from = models.DateTimeField(null=True, blank=True)
    rolled_through = models.DateTimeField(null=True, blank=True)
    rolled_at = models.DateTimeField(null=True, blank=True)
    # The partitions attached at the last run: one attached since (ATTACH fires no trigger) has
    # its range recounted.
    partitions = ArrayField(models.CharField(max_length=63), null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="event_count_rollup_one_row"),
            models.CheckConstraint(
                condition=models.Q(rolled_from__lte=models.F("rolled_through")),
                name="event_count_rollup_range",
            ),
        ]

    def __str__(self) -> str:
        return f"events rolled up over [{self.rolled_from}, {self.rolled_through})"


class EventCountDirtyHour(models.Model):
    """A closed hour whose events changed (a late or back-dated write, a delete), one row per
    hour and writing transaction: the chart counts it live until a roll-up run recounts it."""

    hour = models.DateTimeField()
    xact = models.BigIntegerField()  # the writer's transaction id: marks never conflict
    marked_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "xact"], name="event_count_mark_key"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} (marked {self.marked_at:%Y-%m-%d %H:%M})"


class MetricColumns(models.Model):
    component = models.CharField(max_length=100)
    metric_name = models.CharField(max_length=100)
    value = models.FloatField()
    unit = models.CharField(max_length=20, blank=True, default="")
    tags = JSONField(default=dict, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.component}.{self.metric_name}={self.value}{self.unit}"


class PerformanceMetric(MetricColumns, PostgresPartitionedModel):
    """Daily partitions: the highest-volume table, short retention, read as "last 24 h"."""

    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["recorded_at"]

    pk = models.CompositePrimaryKey("recorded_at", "id")
    id = BigIdentityField(editable=False)
    recorded_at = models.DateTimeField(db_default=Now())

    class Meta:
        indexes = [
            models.Index(
                fields=["component", "metric_name", "-recorded_at"],
                name="metric_component_name_idx",
            ),
            GinIndex(fields=["tags"], name="metric_tags_gin", opclasses=["jsonb_path_ops"]),
        ]


class PerformanceMetricRow(MetricColumns):
    """Read-only admin view of `events_performancemetric`."""

    id = models.BigIntegerField(primary_key=True)
    recorded_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "events_performancemetric"
        verbose_name = "performance metric"
        ordering = ["-recorded_at"]
