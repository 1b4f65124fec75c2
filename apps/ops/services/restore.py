"""Restoring one archived workflow into the live tables."""

from __future__ import annotations

import uuid

from django.db import connections
from django.utils import timezone

from apps.core.roles.config import owner_alias
from apps.pg.locks import set_local_lock_timeout
from apps.pg.retry import retry_on_serialization_failure

from .. import cache, queries, selectors
from ..conf import lock_timeout
from ..models import ArchiveHold, MaintenanceRun, Outcome
from .archive import (
    RESTORE_IGNORED_TRIGGERS,
    RESYNC_IGNORED_TRIGGERS,
    ArchiveMismatch,
    execute_rowcount,
    ignoring_triggers,
)


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
    set_local_lock_timeout(lock_timeout(), using=using)
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
        with ignoring_triggers(RESTORE_IGNORED_TRIGGERS):
            tasks = execute_rowcount(
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
        with ignoring_triggers(RESYNC_IGNORED_TRIGGERS):
            execute_rowcount(
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
