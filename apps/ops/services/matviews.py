"""Refreshing the materialized views of the registry (apps/ops/matviews.py), with their log."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from apps.core.roles.config import owner_alias
from apps.pg.locks import set_local_lock_timeout, try_xact_lock

from .. import cache, leases, queries, selectors
from ..conf import lock_timeout, setting
from ..matviews import get_spec
from ..models import MatviewRefresh, Outcome

logger = logging.getLogger(__name__)

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


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
                set_local_lock_timeout(lock_timeout(), using=db)
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
        stale_after=timedelta(seconds=float(setting("OPS_MATVIEW_REFRESH_MAX_SECONDS", 12 * 60))),
        check_backend=leases.policy("archive").check_backend,
        using=owner_alias(),  # the holders' role: it sees their sessions' start
    )
