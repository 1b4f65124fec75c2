"""Writes of the ops app: matview refresh, archiving/restore, maintenance, heartbeat, schedule.

Every job here is safe to run twice and safe to run concurrently: refreshes take a per-view
advisory lock, archive batches pick rows with FOR UPDATE SKIP LOCKED, long multi-transaction
runs hold a lease row, and all DDL/maintenance statements run under `SET LOCAL lock_timeout`.

What needs the owner's rights (REFRESH, ANALYZE, archive moves and the archive schema's DDL,
partitions) runs on the owner connection (`apps.core.roles.config.owner_alias()`), which only
the maintenance worker has; the run logs are written by the app as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pgtrigger
from django.apps import apps as django_apps
from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.db.models import F
from django.utils import timezone

from apps.core.roles.config import owner_alias
from apps.pg.leases import LeaseLost
from apps.pg.retry import retry_on_serialization_failure
from apps.pg.values import jsonable

from . import cache, leases, queries, selectors
from .locks import set_local_lock_timeout, try_xact_lock
from .matviews import get_spec
from .models import ArchiveHold, ArchiveRun, Heartbeat, MaintenanceRun, MatviewRefresh, Outcome

logger = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _lock_timeout() -> str:
    return _setting("OPS_LOCK_TIMEOUT", "5s")


# --- heartbeat ----------------------------------------------------------------------------------
def heartbeat_record(*, name: str = "beat") -> Heartbeat:
    """Upsert `name`'s heartbeat to now (one statement, idempotent)."""
    beat = Heartbeat(name=name, beat_at=timezone.now())
    Heartbeat.objects.bulk_create(
        [beat], update_conflicts=True, unique_fields=["name"], update_fields=["beat_at"]
    )
    return beat


# --- materialized views ------------------------------------------------------------------------
def matview_refresh(*, name: str, concurrently: bool | None = None) -> MatviewRefresh:
    """Refresh one view and log the attempt.

    concurrently: None = CONCURRENTLY when the view is populated (the default), True = the
    same, False = a plain REFRESH (blocks readers). An unpopulated view always gets a plain
    REFRESH. A second refresh of the same view while one runs returns outcome "skipped".
    A failed refresh rolls back (the old contents stay), is logged as "failed", and transient
    errors (lock timeout, lost connection) are re-raised so a Celery task can retry.

    The log row is committed as "running" before the REFRESH starts (holder = the session that
    runs it) and completed afterwards, so a worker killed mid-way leaves a trace; earlier
    "running" rows of the view whose session is gone are marked "interrupted" first.
    """
    spec = get_spec(name)
    db = owner_alias()  # REFRESH needs ownership of the view
    matview_interrupted_mark(view_name=spec.name)
    started_at = timezone.now()
    t0 = time.perf_counter()
    record = MatviewRefresh.objects.create(
        view_name=spec.name,
        started_at=started_at,
        outcome=Outcome.RUNNING,
        **leases.holder_fields(using=db),
    )
    outcome, rows, error, used_concurrently = Outcome.SUCCESS, None, "", False
    raised: BaseException | None = None
    try:
        owner = connections[db]
        with transaction.atomic(using=db):
            if not try_xact_lock(f"matview:{spec.name}", using=db):
                outcome = Outcome.SKIPPED
                error = "another refresh of this view is running"
            else:
                set_local_lock_timeout(_lock_timeout(), using=db)
                populated = selectors.matview_is_populated(spec.name, using=db)
                if populated is None:
                    raise DatabaseError(f"materialized view {spec.name} does not exist")
                used_concurrently = bool(populated) and concurrently is not False
                with owner.cursor() as cursor:
                    cursor.execute(
                        queries.REFRESH_MATVIEW.format(
                            concurrently="CONCURRENTLY " if used_concurrently else "",
                            name=owner.ops.quote_name(spec.name),
                        )
                    )
                    cursor.execute(
                        queries.MATVIEW_ROWS.format(name=owner.ops.quote_name(spec.name))
                    )
                    rows = cursor.fetchone()[0]
    except Exception as exc:  # includes Celery's SoftTimeLimitExceeded
        outcome, error, raised = Outcome.FAILED, f"{type(exc).__name__}: {exc}".strip(), exc
        logger.warning("refresh of %s failed: %s", spec.name, error)
    record.finished_at = timezone.now()
    record.duration_ms = round((time.perf_counter() - t0) * 1000)
    record.rows, record.concurrently = rows, used_concurrently
    record.outcome, record.error = outcome, error
    try:
        MatviewRefresh.objects.filter(pk=record.pk).update(
            finished_at=record.finished_at,
            duration_ms=record.duration_ms,
            rows=rows,
            concurrently=used_concurrently,
            outcome=outcome,
            error=error,
        )
    except DatabaseError:
        if raised is None:
            raise
        logger.exception("could not log the failed refresh of %s", spec.name)
        raise raised from None
    if outcome == Outcome.SUCCESS:
        cache.invalidate(cache.matview_topic(spec.name))  # dashboards built on the view
    # Permanent database errors are logged and returned; transient ones (retry) and anything
    # unexpected propagate after being logged.
    if raised is not None and (
        isinstance(raised, TRANSIENT_DB_ERRORS) or not isinstance(raised, DatabaseError)
    ):
        raise raised
    return record


def matview_interrupted_mark(*, view_name: str | None = None) -> list[tuple[int, str]]:
    """Mark "running" refresh attempts whose session is gone (or that outlived the refresh
    task's hard time limit) as "interrupted"; returns [(pk, reason)]."""
    running = MatviewRefresh.objects.filter(outcome=Outcome.RUNNING)
    if view_name:
        running = running.filter(view_name=view_name)
    return leases.interrupt_dead(
        running,
        heartbeat_field="started_at",  # one statement, no heartbeat: judged from its start
        stale_after=timedelta(seconds=float(_setting("OPS_MATVIEW_REFRESH_MAX_SECONDS", 12 * 60))),
        check_backend=leases.policy("archive").check_backend,
        using=owner_alias(),  # the holders' role: it sees their sessions' start
    )


# --- leases for long, multi-transaction runs ----------------------------------------------------
def _take_over_dead(model, *, kind: str, using: str = "default", **filters) -> tuple[bool, list]:
    """Under the caller's xact lock: mark running rows whose holder is known dead interrupted;
    returns (a live holder remains, [(pk, reason)] taken over)."""
    lease = leases.policy(kind)
    running = model.objects.using(using).filter(outcome=Outcome.RUNNING, **filters)
    taken = leases.interrupt_dead(
        running,
        heartbeat_field="heartbeat_at",
        stale_after=lease.stale_after,
        check_backend=lease.check_backend,
        using=using,
    )
    return running.exists(), taken


def _mark_ended(queryset, *, using: str, **fields) -> None:
    """Record how a run ended, even after its connection broke (reconnect once); never mask the
    error being handled: a row left "running" is taken over by the next run anyway."""
    connection = connections[using]
    try:
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        queryset.filter(outcome=Outcome.RUNNING).update(**fields)
    except DatabaseError:
        logger.warning("could not record the end of %s", queryset.model.__name__, exc_info=True)


# --- archiving ----------------------------------------------------------------------------------
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


def _execute(cursor, sql: str, params: list) -> int:
    """Execute and return the row count of the statement itself: pgtrigger.ignore() prepends a
    set_config() statement, so move to the last result first."""
    cursor.execute(sql, params)
    while cursor.nextset():
        pass
    return cursor.rowcount


def _ignoring(uris: tuple[str, ...]):
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
        set_local_lock_timeout(_lock_timeout(), using=using)
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
            with _ignoring(ARCHIVE_IGNORED_TRIGGERS):
                dp_deleted = _execute(cursor, queries.DELETE_DEPENDENCIES, [task_ids, task_ids])
                tk_deleted = _execute(cursor, queries.DELETE_TASKS, [task_ids])
                wf_deleted = _execute(cursor, queries.DELETE_WORKFLOWS, [workflow_ids])
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
    size = int(batch_size or _setting("OPS_ARCHIVE_BATCH_SIZE", 200))
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
        pause_seconds if pause_seconds is not None else _setting("OPS_ARCHIVE_PAUSE_SECONDS", 0)
    )
    db = owner_alias()
    runs = ArchiveRun.objects.using(db)
    with transaction.atomic(using=db):
        locked = try_xact_lock("archive", using=db)
        busy, taken = (
            _take_over_dead(ArchiveRun, kind="archive", using=db, applied=True)
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
            set_local_lock_timeout(_lock_timeout(), using=db)
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
        _mark_ended(
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


def archive_restore(*, workflow_id: int) -> dict[str, int]:
    """Move one archived workflow (with its tasks and the dependencies whose both ends are live
    again) back into the live tables, in one transaction (as the owner, like the archive run)."""
    db = owner_alias()

    @retry_on_serialization_failure(using=db)
    def restore() -> dict[str, int]:
        return _archive_restore(workflow_id=workflow_id, using=db)

    result = restore()
    cache.invalidate(cache.ARCHIVE_TOPIC)
    return result


def _archive_restore(*, workflow_id: int, using: str) -> dict[str, int]:
    set_local_lock_timeout(_lock_timeout(), using=using)
    with connections[using].cursor() as cursor:
        cursor.execute(queries.LOCK_ARCHIVED_WORKFLOW, [workflow_id])
        if cursor.fetchone() is None:
            raise ValueError(f"workflow {workflow_id} is not in the archive")
        cursor.execute(queries.LIVE_WORKFLOW_EXISTS, [workflow_id])
        if cursor.fetchone()[0]:
            raise ValueError(f"workflow {workflow_id} already exists in the live tables")

        def shared_columns(table: str) -> list[str]:
            archived = {name for name, _ in selectors.table_columns(f"archive.{table}")}
            return [name for name, _ in selectors.table_columns(table) if name in archived]

        wf_cols = shared_columns("workflows_workflow")
        params = {"id": workflow_id}
        cursor.execute(queries.RESTORE_WORKFLOW.format(cols=", ".join(wf_cols)), params)
        workflows = cursor.rowcount
        with _ignoring(RESTORE_IGNORED_TRIGGERS):
            tasks = _execute(
                cursor,
                queries.RESTORE_TASKS.format(cols=", ".join(shared_columns("tasks_task"))),
                [workflow_id],
            )
        dep_cols = shared_columns("tasks_taskdependency")
        cursor.execute(
            queries.RESTORE_DEPENDENCIES.format(
                cols=", ".join(dep_cols), dcols=", ".join(f"d.{c}" for c in dep_cols)
            ),
            params,
        )
        dependency_ids = [row[0] for row in cursor.fetchall()]
        non_key = [c for c in wf_cols if c != "id"]
        with _ignoring(RESYNC_IGNORED_TRIGGERS):
            _execute(
                cursor,
                queries.RESYNC_WORKFLOW.format(
                    cols=", ".join(non_key), wcols=", ".join(f"w.{c}" for c in non_key)
                ),
                [workflow_id] * 3,
            )
        cursor.execute(queries.DELETE_ARCHIVED_DEPENDENCIES, {"ids": dependency_ids})
        cursor.execute(queries.DELETE_ARCHIVED_TASKS, params)
        archived_tasks_deleted = cursor.rowcount
        cursor.execute(queries.DELETE_ARCHIVED_WORKFLOW, params)
        if archived_tasks_deleted != tasks or cursor.rowcount != workflows:
            raise ArchiveMismatch(f"restore of workflow {workflow_id} does not reconcile")
    result = {"workflows": workflows, "tasks": tasks, "dependencies": len(dependency_ids)}
    now = timezone.now()
    # Staff brought it back for a reason: the next runs leave it until it is completed again.
    ArchiveHold.objects.using(using).update_or_create(
        workflow_id=workflow_id, defaults={"restored_at": now}
    )
    MaintenanceRun.objects.using(using).create(
        run_id=uuid.uuid4(),
        step="archive_restore",
        applied=True,
        started_at=now,
        finished_at=now,
        outcome=Outcome.SUCCESS,
        rows_touched=sum(result.values()),
        details={"workflow_id": workflow_id, **result},
    )
    return result


# --- partitions ---------------------------------------------------------------------------------
def partitions_upkeep(*, apply: bool) -> tuple[int, dict]:
    """Create upcoming partitions; detach partitions past their retention where configured.

    Uses apps.pg's partition services when present (aligned bounds, default-partition checks,
    DETACH-based retention), else the psqlextra manager: plan(skip_delete=True).apply() under
    SET LOCAL lock_timeout. Never drops a partition. Details carry "problems" (blocked/failed
    actions), which make the maintenance step fail loudly.
    """
    if importlib.util.find_spec("apps.pg.partitioning.services") is not None:
        ps = importlib.import_module("apps.pg.partitioning.services")
        if hasattr(ps, "partitions_create"):
            return _partitions_via_events(ps, apply=apply)
    from apps.pg.partitioning.manager import manager

    db = owner_alias()
    plan = manager.plan(skip_delete=True, using=db)
    names = [
        f"{model_plan.config.model._meta.db_table}_{partition.name()}"
        for model_plan in plan.model_plans
        for partition in model_plan.creations
    ]
    if apply and names:
        with transaction.atomic(using=db):
            if not try_xact_lock("partitions", using=db):
                return 0, {"skipped": "another partition run holds the lock"}
            set_local_lock_timeout(_lock_timeout(), using=db)
            plan.apply(using=db)
    return len(names), {"created" if apply else "would_create": names}


def _partitions_via_events(ps, *, apply: bool) -> tuple[int, dict]:
    actions = list(ps.partitions_create(apply=apply))
    if hasattr(ps, "partitions_detach"):
        actions += list(ps.partitions_detach(apply=apply))
    details: dict[str, Any] = {"via": "apps.pg.partitioning.services"}
    touched = 0
    for action in actions:
        data = action.as_dict()
        details.setdefault(f"{data['action']}_{data['status']}", []).append(data["partition"])
        if data["status"] in ("blocked", "failed"):
            details.setdefault("problems", []).append(data)
        if data["status"] == ("done" if apply else "planned"):
            touched += 1
    return touched, details


# --- maintenance --------------------------------------------------------------------------------
RETENTION: list[tuple[str, str, str, int]] = [
    # (model label, date field, setting overriding the days, default days)
    ("ops.MatviewRefresh", "started_at", "OPS_MATVIEW_LOG_RETENTION_DAYS", 30),
    ("ops.MaintenanceRun", "started_at", "OPS_MAINTENANCE_LOG_RETENTION_DAYS", 90),
    ("ops.ArchiveRun", "started_at", "OPS_ARCHIVE_LOG_RETENTION_DAYS", 365),
    # Metrics snapshots: six months.
    ("components.SystemHealth", "recorded_at", "OPS_METRICS_RETENTION_DAYS", 183),
]


def _step_analyze(*, apply: bool, min_rows: int, ratio: float) -> tuple[int, dict]:
    stale = selectors.stale_statistics(min_rows=min_rows, ratio=ratio)
    targets = [row["relation"] for row in stale]
    stale_set = set(targets)
    for parent in selectors.partitioned_parents():
        if parent["never_analyzed"] or stale_set.intersection(parent["members"]):
            targets.append(parent["relation"])
    done, failed = [], {}
    if apply:
        db = owner_alias()  # ANALYZE: the tables' owner
        for relation in targets:
            try:
                with transaction.atomic(using=db):
                    set_local_lock_timeout(_lock_timeout(), using=db)
                    with connections[db].cursor() as cursor:
                        # relation is regclass output from the catalog (already quoted).
                        cursor.execute(f"ANALYZE {relation}")
                done.append(relation)
            except DatabaseError as exc:
                failed[relation] = str(exc).strip()
    details = {"stale": stale, "analyzed" if apply else "would_analyze": done if apply else targets}
    if failed:
        details["failed"] = failed
    return len(done) if apply else len(targets), details


def _step_retention(*, apply: bool) -> tuple[int, dict]:
    batch = int(_setting("OPS_RETENTION_BATCH_SIZE", 5000))
    details, total = {}, 0
    for label, field, setting_name, default_days in RETENTION:
        try:
            model = django_apps.get_model(label)
        except LookupError:
            continue
        days = int(_setting(setting_name, default_days))
        old = model.objects.filter(**{f"{field}__lt": timezone.now() - timedelta(days=days)})
        if not apply:
            count = old.count()
        else:
            count = 0
            while True:
                with transaction.atomic():
                    ids = list(old.order_by().values_list("pk", flat=True)[:batch])
                    if not ids:
                        break
                    count += model.objects.filter(pk__in=ids).delete()[0]
        details[label] = {"older_than_days": days, "deleted" if apply else "would_delete": count}
        total += count
    # The per-table policy of apps/privacy (PRIVACY_RETENTION_DAYS).
    from apps.privacy.retention import retention_enforce

    touched, privacy = retention_enforce(apply=apply)
    details["privacy"] = privacy
    if privacy.get("problems"):
        details["problems"] = privacy["problems"]
    total += touched
    return total, details


def _step_partitions(*, apply: bool) -> tuple[int, dict]:
    return partitions_upkeep(apply=apply)


def _step_vacuum_report(*, apply: bool, min_dead: int, ratio: float) -> tuple[int, dict]:
    candidates = selectors.vacuum_candidates(min_dead=min_dead, ratio=ratio)
    return 0, {
        "needs_vacuum": candidates,
        "note": "report only: run VACUUM (never VACUUM FULL) or tune autovacuum for these",
    }


MAINTENANCE_STEPS = ("analyze", "retention", "partitions", "vacuum_report")


def maintenance_run(
    *,
    apply: bool = False,
    steps: list[str] | tuple[str, ...] = MAINTENANCE_STEPS,
    analyze_min_rows: int | None = None,
    analyze_ratio: float | None = None,
) -> list[MaintenanceRun]:
    """Run the maintenance steps (dry run unless apply); one MaintenanceRun row per step plus
    a `run` row that is the lease (a concurrent applying run is skipped)."""
    unknown = set(steps) - set(MAINTENANCE_STEPS)
    if unknown:
        raise ValueError(f"unknown maintenance steps: {sorted(unknown)}")
    run_id = uuid.uuid4()
    taken: list = []
    with transaction.atomic():
        busy = False
        if apply:
            busy = not try_xact_lock("maintain")
            if not busy:
                busy, taken = _take_over_dead(
                    MaintenanceRun, kind="maintenance", step="run", applied=True
                )
        details: dict[str, Any] = {"steps": list(steps)}
        if taken:
            details["took_over"] = [{"run": pk, "reason": why} for pk, why in taken]
        header = MaintenanceRun.objects.create(
            run_id=run_id,
            step="run",
            applied=apply,
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            outcome=Outcome.SKIPPED if busy else Outcome.RUNNING,
            details=details,
            **leases.holder_fields(using="default"),
        )
    if busy:
        MaintenanceRun.objects.filter(pk=header.pk).update(finished_at=timezone.now())
        header.refresh_from_db()
        return [header]

    step_funcs: dict[str, Callable[..., tuple[int, dict]]] = {
        "analyze": lambda: _step_analyze(
            apply=apply,
            min_rows=int(
                analyze_min_rows
                if analyze_min_rows is not None
                else _setting("OPS_ANALYZE_MIN_ROWS", 1000)
            ),
            ratio=float(
                analyze_ratio if analyze_ratio is not None else _setting("OPS_ANALYZE_RATIO", 0.1)
            ),
        ),
        "retention": lambda: _step_retention(apply=apply),
        "partitions": lambda: _step_partitions(apply=apply),
        "vacuum_report": lambda: _step_vacuum_report(
            apply=apply,
            min_dead=int(_setting("OPS_VACUUM_MIN_DEAD_ROWS", 1000)),
            ratio=float(_setting("OPS_VACUUM_DEAD_RATIO", 0.2)),
        ),
    }
    rows = [header]
    any_failed = False
    for step in steps:
        _maintenance_beat(header)
        row = MaintenanceRun.objects.create(
            run_id=run_id, step=step, applied=apply, started_at=timezone.now()
        )
        try:
            touched, details = step_funcs[step]()
            row.outcome = Outcome.SUCCESS if apply else Outcome.DRY_RUN
            row.rows_touched, row.details = touched, jsonable(details)
            if details.get("problems"):
                any_failed = True
                row.outcome, row.error = Outcome.FAILED, "see details.problems"
        except Exception as exc:
            logger.exception("maintenance step %s failed", step)
            any_failed = True
            row.outcome, row.error = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        row.finished_at = timezone.now()
        row.save(update_fields=["outcome", "rows_touched", "details", "error", "finished_at"])
        rows.append(row)
    _maintenance_beat(header)
    header.outcome = (
        Outcome.FAILED if any_failed else (Outcome.SUCCESS if apply else Outcome.DRY_RUN)
    )
    header.rows_touched = sum(r.rows_touched for r in rows[1:])
    header.finished_at = timezone.now()
    header.save(update_fields=["outcome", "rows_touched", "finished_at"])
    return rows


def _maintenance_beat(header: MaintenanceRun) -> None:
    """Refresh the lease between steps; stop if another run took it over."""
    if header.outcome != Outcome.RUNNING:
        return
    beat = MaintenanceRun.objects.filter(pk=header.pk, outcome=Outcome.RUNNING).update(
        heartbeat_at=timezone.now(), **leases.holder_fields(using="default")
    )
    if not beat:
        raise LeaseLost(f"maintenance run {header.run_id} lost its lease to another run")


# --- beat schedule ------------------------------------------------------------------------------
@transaction.atomic
def beat_schedule_install() -> list[str]:
    """Install/refresh DEFAULT_SCHEDULE (apps/ops/schedule.py); returns the names changed."""
    from django_celery_beat.models import (
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        PeriodicTasks,
    )

    from .schedule import install_schedule

    changed = install_schedule(
        periodic_task=PeriodicTask,
        interval_schedule=IntervalSchedule,
        crontab_schedule=CrontabSchedule,
        periodic_tasks=PeriodicTasks,
        now=timezone.now(),
    )
    PeriodicTasks.update_changed()
    return changed
