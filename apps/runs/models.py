"""Workflow executions and form submissions, RANGE-partitioned by month.

WorkflowRun, NodeExecution and FormResponse are partitioned; FormSchema is a plain small table.
Nothing may reference a partitioned table with a database FK, so a node execution names its run by
value: `(run_started_at, run_id)`, the run's full primary key (the started_at part also lets a
query for one run's nodes prune partitions). References to workflows carry no database constraint:
run history outlives a deleted workflow. Shadow `…Row` models (unmanaged, single `id` pk) serve
the admin.
"""

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Now
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod

from apps.core.fields import JSONField
from apps.core.models import choices_check
from apps.pg.partitioning.fields import BigIdentityField


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class NodeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


def _completed_after_started(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(completed_at__isnull=True)
        | models.Q(completed_at__gte=models.F("started_at")),
        name=f"{prefix}_completed_after_started",
    )


def _duration_non_negative(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(duration_ms__isnull=True) | models.Q(duration_ms__gte=0),
        name=f"{prefix}_duration_non_negative",
    )


# --- workflow runs ---------------------------------------------------------------------------


class WorkflowRunColumns(models.Model):
    workflow = models.ForeignKey(
        "workflows.Workflow",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    status = models.CharField(max_length=20, choices=RunStatus, default=RunStatus.PENDING)
    trigger_data = JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"run {self.id} of workflow {self.workflow_id} ({self.status})"


class WorkflowRun(WorkflowRunColumns, PostgresPartitionedModel):
    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["started_at"]

    pk = models.CompositePrimaryKey("started_at", "id")
    id = BigIdentityField(editable=False)
    started_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            choices_check("status", RunStatus, "workflowrun_status_valid"),
            _completed_after_started("workflowrun"),
            _duration_non_negative("workflowrun"),
        ]
        indexes = [
            # the live/failed queue: runs by status, newest first
            models.Index(
                fields=["status", "-started_at"],
                name="workflowrun_active_idx",
                condition=models.Q(status__in=["running", "failed", "pending"]),
            ),
            # a workflow's runs by status (covering)
            models.Index(
                fields=["workflow", "status"],
                name="workflowrun_wf_status_idx",
                include=["started_at", "completed_at"],
            ),
            models.Index(fields=["id"], name="workflowrun_id_idx"),
        ]


class WorkflowRunRow(WorkflowRunColumns):
    id = models.BigIntegerField(primary_key=True)
    started_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "runs_workflowrun"
        verbose_name = "workflow run"
        ordering = ["-started_at"]


# --- node executions -------------------------------------------------------------------------


class NodeExecutionColumns(models.Model):
    # The run's primary key, by value (no FK may point to a partitioned table).
    run_id = models.BigIntegerField()
    run_started_at = models.DateTimeField()
    node_id = models.CharField(max_length=100)
    node_type = models.CharField(max_length=100)
    input = JSONField(default=dict, blank=True)
    output = JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=NodeStatus, default=NodeStatus.PENDING)
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"node {self.node_id} of run {self.run_id} ({self.status})"


class NodeExecution(NodeExecutionColumns, PostgresPartitionedModel):
    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["started_at"]

    pk = models.CompositePrimaryKey("started_at", "id")
    id = BigIdentityField(editable=False)
    started_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            choices_check("status", NodeStatus, "nodeexecution_status_valid"),
            _completed_after_started("nodeexecution"),
            _duration_non_negative("nodeexecution"),
            models.CheckConstraint(
                condition=models.Q(started_at__gte=models.F("run_started_at")),
                name="nodeexecution_started_after_run",
            ),
        ]
        indexes = [
            # a run's node executions (covering; `error` left out: unbounded text)
            models.Index(
                fields=["run_id", "node_id", "status"],
                name="nodeexecution_run_node_idx",
                include=["started_at", "completed_at"],
            ),
            models.Index(fields=["id"], name="nodeexecution_id_idx"),
        ]


class NodeExecutionRow(NodeExecutionColumns):
    id = models.BigIntegerField(primary_key=True)
    started_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "runs_nodeexecution"
        verbose_name = "node execution"
        ordering = ["-started_at"]


# --- forms -----------------------------------------------------------------------------------


class FormSchema(models.Model):
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    schema = JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            # also serves the newest version of a schema by name (scanned backwards)
            models.UniqueConstraint(
                fields=["name", "version"],
                name="formschema_name_version_unique",
                violation_error_message="This form already has a schema with this version.",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="formschema_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class FormResponseColumns(models.Model):
    # FK *from* the partitioned table to a small plain table: a real constraint, PROTECT.
    form_schema = models.ForeignKey(
        FormSchema, on_delete=models.PROTECT, db_index=False, related_name="+"
    )
    # The run's primary key by value (optional: forms can be submitted outside a run).
    workflow_run_id = models.BigIntegerField(null=True, blank=True)
    workflow_run_started_at = models.DateTimeField(null=True, blank=True)
    data = JSONField(default=dict, blank=True)
    metadata = JSONField(default=dict, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"response {self.id} to {self.form_schema_id}"


class FormResponse(FormResponseColumns, PostgresPartitionedModel):
    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["submitted_at"]

    pk = models.CompositePrimaryKey("submitted_at", "id")
    id = BigIdentityField(editable=False)
    submitted_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    workflow_run_id__isnull=True, workflow_run_started_at__isnull=True
                )
                | models.Q(workflow_run_id__isnull=False, workflow_run_started_at__isnull=False),
                name="formresponse_run_ref_complete",
            ),
        ]
        indexes = [
            # a schema's responses, newest first
            models.Index(
                fields=["form_schema", "-submitted_at"], name="formresponse_schema_time_idx"
            ),
            # a workflow's responses
            models.Index(
                fields=["workflow_run_id"],
                name="formresponse_run_idx",
                condition=models.Q(workflow_run_id__isnull=False),
            ),
            # searches inside the answers (jsonb_ops: supports ?, ?|, ?& and @>)
            GinIndex(fields=["data"], name="formresponse_data_gin"),
            # metadata containment only: the smaller jsonb_path_ops
            GinIndex(
                fields=["metadata"], name="formresponse_metadata_gin", opclasses=["jsonb_path_ops"]
            ),
            models.Index(fields=["id"], name="formresponse_id_idx"),
        ]


class FormResponseRow(FormResponseColumns):
    id = models.BigIntegerField(primary_key=True)
    submitted_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "runs_formresponse"
        verbose_name = "form response"
        ordering = ["-submitted_at"]
