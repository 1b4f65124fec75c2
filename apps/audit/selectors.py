"""Reads of the audit log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from .models import AuditEvent


def audit_row_history(
    *, table_name: str, row_pk: str | int, since: datetime | None = None
) -> QuerySet[AuditEvent]:
    """Every audit entry of one row, newest first (index table_name, row_pk, created_at)."""
    qs = AuditEvent.objects.filter(table_name=table_name, row_pk=str(row_pk))
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs.order_by("-created_at", "-id")
