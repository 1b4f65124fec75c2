"""The audit log: one row per change of a domain row (written by database triggers) or per
admin/service action (`services.audit_action_record`).

The column names and types are a contract with the audit-capture triggers on the domain tables,
which INSERT without naming `created_at`/`id`, so both have real database defaults. Monthly
partitions; append-only (a Protect trigger refuses UPDATE and DELETE on every partition);
retention detaches whole partitions into the `archive` schema.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from psqlextra.models import PostgresPartitionedModel
from psqlextra.types import PostgresPartitioningMethod

from apps.core.models import choices_check
from apps.pg.partitioning.fields import BigIdentityField, TransactionNow

from .documents import ChangesField


class AuditAction(models.TextChoices):
    INSERT = "INSERT", "Insert"
    UPDATE = "UPDATE", "Update"
    DELETE = "DELETE", "Delete"
    ACTION = "ACTION", "Action"


class AppendOnly(pgtrigger.Protect):
    """Protect with a message naming the parent table (TG_TABLE_NAME would be the partition)."""

    def get_func(self, model):
        return self.format_sql(
            f"""
            RAISE EXCEPTION '{model._meta.db_table} is append-only: % refused (retention detaches whole partitions)', TG_OP
                USING ERRCODE = 'restrict_violation';
            """
        )


class AuditEventColumns(models.Model):
    table_name = models.CharField(max_length=100)
    row_pk = models.CharField(max_length=64)
    action = models.CharField(max_length=10, choices=AuditAction)
    changes = ChangesField(db_default=models.Value({}, output_field=models.JSONField()))
    request_id = models.CharField(max_length=64, blank=True, db_default="")
    txid = models.BigIntegerField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.action} {self.table_name}#{self.row_pk}"


class AuditEvent(AuditEventColumns, PostgresPartitionedModel):
    class PartitioningMeta:
        method = PostgresPartitioningMethod.RANGE
        key = ["created_at"]

    pk = models.CompositePrimaryKey("created_at", "id")
    id = BigIdentityField(editable=False)
    created_at = models.DateTimeField(db_default=TransactionNow())
    # bigint, no FK: the log must outlive its users and never block deleting one.
    actor_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [choices_check("action", AuditAction, "auditevent_action_valid")]
        indexes = [
            models.Index(
                fields=["table_name", "row_pk", "-created_at"], name="auditevent_row_history_idx"
            ),
            # What one account did: "who changed what", and the erasure's actor lookups.
            models.Index(
                fields=["actor_id", "-created_at"],
                name="auditevent_actor_idx",
                condition=models.Q(actor_id__isnull=False),
            ),
            # The admin's action filter within the time window (bench/admin.py).
            models.Index(fields=["action", "-created_at"], name="auditevent_action_idx"),
            # The admin's search by request id; server-side writes carry none (not indexed).
            models.Index(
                fields=["request_id", "-created_at"],
                name="auditevent_request_idx",
                condition=~models.Q(request_id=""),
            ),
        ]
        triggers = [AppendOnly(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)]


class AuditEventRow(AuditEventColumns):
    """Read-only admin view of `audit_auditevent`."""

    id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        managed = False
        db_table = "audit_auditevent"
        verbose_name = "audit event"
        ordering = ["-created_at"]
