"""Archiving: completed workflows (with their tasks and dependencies) moved to archive.*."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pgtrigger
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.roles.config import owner_alias
from apps.pg.leases import LeaseLost
from apps.pg.locks import set_local_lock_timeout, try_xact_lock

from .. import cache, leases, queries, selectors
from ..conf import lock_timeout, setting
from ..models import ArchiveRun, Outcome

logger = logging.getLogger(__name__)

# Triggers of the live tables (apps/pg/triggers.py, apps/audit/triggers.py) that must not fire while rows are moved:
# - archiving deletes a workflow's tasks together with the workflow itself, so the task → workflow
#   counter roll-up on DELETE would only rewrite (and audit) a row that is deleted next;
# - restoring puts back a workflow row that already carries its final counters, so the roll-up on
#   INSERT would count its tasks twice; the final re-sync of the workflow row restores the
#   archived values verbatim (updated_at, started_at), which set_updated_at and the status
#   trigger's defaults would otherwise overwrite.
# The audit triggers keep firing (each move is recorded as DELETE/INSERT).
ARCHIVE_IGNORED_TRIGGERS = ("tasks.Task:workflow_rollup_delete",)
RESTORE_IGNORED_TRIGGERS = ("tasks.Task:workflow_rollup_insert",)
RESYNC_IGNORED_TRIGGERS = (
    "workflows.Workflow:set_updated_at",
    "workflows.Workflow:workflow_status_transition",
)


def execute_rowcount(cursor, sql: str, params: list) -> int:
    """Execute and return the row count of the statement itself: pgtrigger.ignore() prepends a
    set_config() statement, so move to the last result first."""
    cursor.execute(sql, params)
    while cursor.nextset():
        pass
    return cursor.rowcount


def ignoring_triggers(uris: tuple[str, ...]):
    """pgtrigger.ignore() for those of `uris` that are registered (others are not installed)."""
    registered = {
        f"{model._meta.label}:{trigger.name}" for model, trigger in pgtrigger.registered()
    }
    return pgtrigger.ignore(*[uri for uri in uris if uri in registered])


ARCHIVED_TABLES = ("workflows_workflow", "tasks_task", "tasks_taskdependency")


class ArchiveMismatch(DatabaseError):
    """A batch moved and deleted different numbers of rows; the batch is rolled back."""


def archive_after_days() -> int:
    return int(getattr(settings, "ARCHIVE_AFTER_DAYS", 365))


def archive_schema_sync(*, using: str | None = None) -> list[str]:
    """Add to archive.* any column the live table gained since (nullable, no default)."""
    using = using or owner_alias()
    added = []
    for table in ARCHIVED_TABLES:
        archived = {name for name, _ in selectors.table_columns(f"archive.{table}")}
        for name, sql_type in selectors.table_columns(table):
            if name not in archived:
                with connections[using].cursor() as cursor:
                    cursor.execute(
                        queries.ADD_ARCHIVE_COLUMN.format(
                            table=f"archive.{table}", column=name, type=sql_type
                        )
                    )
                added.append(f"archive.{table}.{name}")
    return added


def _columns(table: str) -> str:
    return ", ".join(name for name, _ in selectors.table_columns(table))


@dataclass(frozen=True)
class BatchCounts:
    workflows: tuple[int, int]  # (moved, deleted)
    tasks: tuple[int, int]
    dependencies: tuple[int, int]


def _archive_batch(
    *, run: ArchiveRun, workflow_filter: str, batch_size: int, using: str
) -> BatchCounts | None:
    """Move one batch of workflows (+ tasks + dependencies) in one transaction; None if done."""
    with transaction.atomic(using=using):
        set_local_lock_timeout(lock_timeout(), using=using)
        with connections[using].cursor() as cursor:
            cursor.execute(
                queries.ARCHIVE_PICK_BATCH.format(filter=workflow_filter),
                {"cutoff": run.cutoff, "limit": batch_size},
            )
            workflow_ids = [row[0] for row in cursor.fetchall()]
            if not workflow_ids:
                return None
            cursor.execute(queries.LOCK_TASKS_OF, [workflow_ids])
            task_ids = [row[0] for row in cursor.fetchall()]
            now = timezone.now()

            def run_sql(sql: str, ids: list[int]) -> int:
                cursor.execute(sql, {"ids": ids, "now": now})
                return cursor.rowcount

            # Copy first (the original rows, before any trigger reacts to the deletes)...
            wf_moved = run_sql(
                queries.INSERT_ARCHIVE_WORKFLOWS.format(cols=_columns("workflows_workflow")),
                workflow_ids,
            )
            tk_moved = run_sql(
                queries.INSERT_ARCHIVE_TASKS.format(cols=_columns("tasks_task")), task_ids
            )
            dp_moved = run_sql(
                queries.INSERT_ARCHIVE_DEPENDENCIES.format(cols=_columns("tasks_taskdependency")),
                task_ids,
            )
            # ...then delete children before parents.
            with ignoring_triggers(ARCHIVE_IGNORED_TRIGGERS):
                dp_deleted = execute_rowcount(
                    cursor, queries.DELETE_DEPENDENCIES, [task_ids, task_ids]
                )
                tk_deleted = execute_rowcount(cursor, queries.DELETE_TASKS, [task_ids])
                wf_deleted = execute_rowcount(cursor, queries.DELETE_WORKFLOWS, [workflow_ids])
            # Restored workflows completed again and archived again: their hold is spent.
            cursor.execute(queries.DELETE_HOLDS, [workflow_ids])
        counts = BatchCounts(
            workflows=(wf_moved, wf_deleted),
            tasks=(tk_moved, tk_deleted),
            dependencies=(dp_moved, dp_deleted),
        )
        if wf_moved != len(workflow_ids) or any(
            moved != deleted
            for moved, deleted in (counts.workflows, counts.tasks, counts.dependencies)
        ):
            raise ArchiveMismatch(f"archive batch does not reconcile: {counts}")
        # The heartbeat doubles as the fence: if another run took the lease over (this one was
        # judged dead), the batch rolls back instead of counting into a closed run.
        beat = (
            ArchiveRun.objects.using(using)
            .filter(pk=run.pk, outcome=Outcome.RUNNING)
            .update(
                batches=F("batches") + 1,
                heartbeat_at=timezone.now(),
                **leases.holder_fields(using=using),
                workflows_moved=F("workflows_moved") + wf_moved,
                workflows_deleted=F("workflows_deleted") + wf_deleted,
                tasks_moved=F("tasks_moved") + tk_moved,
                tasks_deleted=F("tasks_deleted") + tk_deleted,
                dependencies_moved=F("dependencies_moved") + dp_moved,
                dependencies_deleted=F("dependencies_deleted") + dp_deleted,
            )
        )
        if not beat:
            raise LeaseLost(f"archive run {run.pk} lost its lease to another run")
    return counts


def archive_run(
    *,
    older_than_days: int | None = None,
    apply: bool = False,
    batch_size: int | None = None,
    max_batches: int | None = None,
    max_seconds: float | None = None,
    pause_seconds: float | None = None,
) -> ArchiveRun:
    """Archive completed/cancelled workflows older than `older_than_days` (dry run by default).

    Each batch is one transaction (INSERT … SELECT into archive.* + DELETE, counts checked), so
    a kill loses at most the batch in flight and a re-run continues where it stopped. Only one
    applying run at a time (lease row): a second one returns outcome "skipped" while the holder
    lives, and takes over (details "took_over") once it is known dead: its database session is
    gone, or it has not beaten for OPS_LEASE_MISSED_BEATS intervals of
    OPS_ARCHIVE_HEARTBEAT_SECONDS.
    pause_seconds (OPS_ARCHIVE_PAUSE_SECONDS): sleep between batches, to spare a busy primary
    and its replicas; keep it well below the heartbeat interval.
    """
    days = archive_after_days() if older_than_days is None else int(older_than_days)
    size = int(batch_size or setting("OPS_ARCHIVE_BATCH_SIZE", 200))
    now = timezone.now()
    cutoff = now - timedelta(days=days)
    fields = dict(
        started_at=now,
        heartbeat_at=now,
        applied=apply,
        older_than_days=days,
        cutoff=cutoff,
        batch_size=size,
    )
    if not apply:
        counts = selectors.archive_candidate_counts(cutoff=cutoff)
        return ArchiveRun.objects.create(
            **fields,
            finished_at=timezone.now(),
            outcome=Outcome.DRY_RUN,
            details={
                "would_move": {
                    "workflows": counts.workflows,
                    "tasks": counts.tasks,
                    "dependencies": counts.dependencies,
                },
                **_kept_live(cutoff),
            },
        )

    pause = float(
        pause_seconds if pause_seconds is not None else setting("OPS_ARCHIVE_PAUSE_SECONDS", 0)
    )
    db = owner_alias()
    runs = ArchiveRun.objects.using(db)
    with transaction.atomic(using=db):
        locked = try_xact_lock("archive", using=db)
        busy, taken = (
            leases.take_over_dead(ArchiveRun, kind="archive", using=db, applied=True)
            if locked
            else (True, [])
        )
        if busy:
            return runs.create(
                **fields,
                finished_at=timezone.now(),
                outcome=Outcome.SKIPPED,
                error="another archive run holds the lease (it is alive)",
            )
        details = {"took_over": [{"run": pk, "reason": why} for pk, why in taken]} if taken else {}
        run = runs.create(
            **fields, outcome=Outcome.RUNNING, details=details, **leases.holder_fields(using=db)
        )

    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    outcome, error = Outcome.SUCCESS, ""
    try:
        with transaction.atomic(using=db):
            set_local_lock_timeout(lock_timeout(), using=db)
            added = archive_schema_sync(using=db)
        if added:
            runs.filter(pk=run.pk).update(details={**run.details, "columns_added": added})
        workflow_filter = selectors.archive_workflow_filter()
        batches = 0
        while True:
            if max_batches is not None and batches >= max_batches:
                outcome = Outcome.PARTIAL
                break
            if deadline is not None and time.monotonic() >= deadline:
                outcome = Outcome.PARTIAL
                break
            if (
                _archive_batch(run=run, workflow_filter=workflow_filter, batch_size=size, using=db)
                is None
            ):
                break
            batches += 1
            if pause:
                time.sleep(pause)
    except BaseException as exc:
        leases.mark_ended(
            runs.filter(pk=run.pk),
            using=db,
            outcome=Outcome.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    run.refresh_from_db()
    if run.workflows_moved:
        cache.invalidate(cache.ARCHIVE_TOPIC)
    runs.filter(pk=run.pk, outcome=Outcome.RUNNING).update(
        outcome=outcome,
        finished_at=timezone.now(),
        error=error,
        details={**run.details, **_kept_live(cutoff)},
    )
    run.refresh_from_db()
    return run


def _kept_live(cutoff: datetime) -> dict:
    kept = selectors.archive_kept_live(cutoff=cutoff)
    return {"kept_live": kept} if kept else {}
