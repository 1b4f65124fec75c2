"""The maintenance run: ANALYZE of stale statistics, log retention, partitions, vacuum report."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.apps import apps as django_apps
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps.core.roles.config import owner_alias
from apps.pg.leases import LeaseLost
from apps.pg.locks import set_local_lock_timeout, try_xact_lock
from apps.pg.values import jsonable

from .. import leases, selectors
from ..conf import lock_timeout, setting
from ..models import MaintenanceRun, Outcome
from .partitions import partitions_upkeep

logger = logging.getLogger(__name__)

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
                    set_local_lock_timeout(lock_timeout(), using=db)
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
    batch = int(setting("OPS_RETENTION_BATCH_SIZE", 5000))
    details, total = {}, 0
    for label, field, setting_name, default_days in RETENTION:
        try:
            model = django_apps.get_model(label)
        except LookupError:
            continue
        days = int(setting(setting_name, default_days))
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
                busy, taken = leases.take_over_dead(
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
                else setting("OPS_ANALYZE_MIN_ROWS", 1000)
            ),
            ratio=float(
                analyze_ratio if analyze_ratio is not None else setting("OPS_ANALYZE_RATIO", 0.1)
            ),
        ),
        "retention": lambda: _step_retention(apply=apply),
        "partitions": lambda: _step_partitions(apply=apply),
        "vacuum_report": lambda: _step_vacuum_report(
            apply=apply,
            min_dead=int(setting("OPS_VACUUM_MIN_DEAD_ROWS", 1000)),
            ratio=float(setting("OPS_VACUUM_DEAD_RATIO", 0.2)),
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
