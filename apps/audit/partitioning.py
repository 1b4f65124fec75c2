"""Partitioning policy of the audit log (collected by apps.pg.partitioning.manager)."""

from dateutil.relativedelta import relativedelta

from apps.pg.partitioning import PartitionPolicy

from .models import AuditEvent

CONFIGS = [
    # Kept online two years; older months are detached into the archive schema, never dropped.
    PartitionPolicy(AuditEvent, unit="months", ahead=3, retention=relativedelta(months=24)),
]
