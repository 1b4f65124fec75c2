"""Writes of the ops app, one module per job: matview refresh, archive and restore, partition
upkeep, maintenance, and the beat (heartbeat, schedule). This package re-exports them, so
callers keep `from apps.ops import services`.

Every job here is safe to run twice and safe to run concurrently: refreshes take a per-view
advisory lock, archive batches pick rows with FOR UPDATE SKIP LOCKED, long multi-transaction
runs hold a lease row, and all DDL/maintenance statements run under `SET LOCAL lock_timeout`.

What needs the owner's rights (REFRESH, ANALYZE, archive moves and the archive schema's DDL,
partitions) runs on the owner connection (`apps.core.roles.config.owner_alias()`), which only
the maintenance worker has; the run logs are written by the app as usual.
"""

from .archive import (
    ARCHIVED_TABLES,
    ArchiveMismatch,
    BatchCounts,
    archive_after_days,
    archive_run,
    archive_schema_sync,
)
from .beat import beat_schedule_install, heartbeat_record
from .maintenance import MAINTENANCE_STEPS, RETENTION, maintenance_run
from .matviews import TRANSIENT_DB_ERRORS, matview_interrupted_mark, matview_refresh
from .partitions import partitions_upkeep
from .restore import archive_restore

__all__ = [
    "ARCHIVED_TABLES",
    "MAINTENANCE_STEPS",
    "RETENTION",
    "TRANSIENT_DB_ERRORS",
    "ArchiveMismatch",
    "BatchCounts",
    "archive_after_days",
    "archive_restore",
    "archive_run",
    "archive_schema_sync",
    "beat_schedule_install",
    "heartbeat_record",
    "maintenance_run",
    "matview_interrupted_mark",
    "matview_refresh",
    "partitions_upkeep",
]
