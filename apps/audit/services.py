"""Writes of the audit log. Row changes are captured by database triggers on the domain tables;
this records application-level actions (admin cancel/terminate, …) in the same table."""

from __future__ import annotations

from django.db import models, transaction

from apps.audit import request_context
from apps.core.inputs import json_object, optional_id, optional_text, required_text

from .models import AuditAction, AuditEvent


def audit_action_record(
    *,
    action_name: str,
    target: str,
    target_pk: str,
    details: dict,
    actor_id: int | None,
    request_id: str = "",
    using: str = "default",
) -> None:
    """Append action='ACTION' for `target` (a table name) row `target_pk`.

    `changes` = {"action": action_name, **details}; an empty `request_id` falls back to the
    request bound by AuditContextMiddleware, if any. `using`: the connection (and transaction)
    to write in, e.g. the owner's for a maintenance job's record.
    """
    action_name = required_text(action_name, what="Audit action_name", max_length=100)
    details = json_object(details, what="Audit details", allow_none=False)
    with transaction.atomic(using=using):
        AuditEvent.objects.using(using).create(
            table_name=required_text(target, what="Audit target", max_length=100),
            row_pk=required_text(str(target_pk), what="Audit target_pk", max_length=64),
            action=AuditAction.ACTION,
            changes={"action": action_name, **details},
            actor_id=optional_id(actor_id, what="Audit actor_id"),
            request_id=optional_text(
                request_id or request_context.current().request_id or "",
                what="Audit request_id",
                max_length=64,
            ),
            txid=models.Func(function="txid_current", output_field=models.BigIntegerField()),
        )
