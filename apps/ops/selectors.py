"""Reads for the ops app: catalog state, freshness, archive candidates, maintenance reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import ProgrammingError, connection, connections
from django.utils import timezone

from apps.pg import catalog
from apps.pg.sql import fetch

from . import queries
from .matviews import REGISTRY, MatviewSpec
from .models import Heartbeat, MatviewRefresh, Outcome


# --- materialized views ------------------------------------------------------------------------
def matview_is_populated(name: str, *, using: str = "default") -> bool | None:
    """True/False from pg_class.relispopulated; None if the view does not exist."""
    with connections[using].cursor() as cursor:
        cursor.execute(queries.MATVIEW_POPULATED, [name])
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


@dataclass(frozen=True)
class MatviewFreshness:
    spec: MatviewSpec
    last_success: MatviewRefresh | None
    last_attempt: MatviewRefresh | None

    @property
    def age(self) -> timedelta | None:
        if self.last_success is None:
            return None
        return timezone.now() - self.last_success.finished_at

    @property
    def is_stale(self) -> bool:
        age = self.age
        return age is None or age > self.spec.staleness_limit


def matview_freshness() -> list[MatviewFreshness]:
    result = []
    for spec in REGISTRY.values():
        log = MatviewRefresh.objects.filter(view_name=spec.name)
        result.append(
            MatviewFreshness(
                spec=spec,
                last_success=log.filter(outcome=Outcome.SUCCESS).order_by("-started_at").first(),
                last_attempt=log.order_by("-started_at").first(),
            )
        )
    return result


# --- heartbeat ----------------------------------------------------------------------------------
def heartbeat_age(name: str = "beat") -> timedelta | None:
    beat_at = Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
    return None if beat_at is None else timezone.now() - beat_at


# --- archive ------------------------------------------------------------------------------------
def table_columns(table: str) -> list[tuple[str, str]]:
    """(quoted column name, SQL type) of a table, in column order."""
    columns = catalog.table_columns(table)
    if columns is None:
        raise ProgrammingError(f'relation "{table}" does not exist')
    return [(c.quoted, c.type) for c in columns]


def archive_workflow_filter() -> str:
    """WHERE clause (alias `w`, parameter %(cutoff)s) selecting archivable workflows.

    Workflows still referenced from tables the archiver does not move (found through the
    catalog's foreign keys) are left alone, so a batch never fails on a foreign key.
    """
    with connection.cursor() as cursor:
        cursor.execute(queries.FOREIGN_REFERENCES)
        references = cursor.fetchall()
    handled = {
        ("tasks_task", "workflow_id", "workflows_workflow"),
        ("tasks_task", "parent_id", "tasks_task"),
        ("tasks_taskdependency", "task_id", "tasks_task"),
        ("tasks_taskdependency", "depends_on_id", "tasks_task"),
    }
    clauses = [queries.ARCHIVE_WORKFLOW_FILTER]
    for table, column, target in references:
        if (table, column, target) in handled:
            continue
        template = (
            queries.REFERENCED_BY_WORKFLOW
            if target == "workflows_workflow"
            else queries.REFERENCED_BY_TASK
        )
        clauses.append(template.format(table=table, column=column))
    return "\n".join(clauses)


@dataclass(frozen=True)
class ArchiveCounts:
    workflows: int
    tasks: int
    dependencies: int


def archive_candidate_counts(*, cutoff: datetime) -> ArchiveCounts:
    sql = queries.ARCHIVE_COUNT_CANDIDATES.format(filter=archive_workflow_filter())
    with connection.cursor() as cursor:
        cursor.execute(sql, {"cutoff": cutoff})
        workflows, tasks, dependencies = cursor.fetchone()
    return ArchiveCounts(workflows=workflows, tasks=tasks, dependencies=dependencies)


def archive_kept_live(*, cutoff: datetime, limit: int = 20) -> dict:
    """Old finished workflows the archiver keeps live, and why (counts + a sample each)."""
    params = {"cutoff": cutoff, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(queries.ARCHIVE_KEPT_COUNTS, params)
        by_dependents, by_hold = cursor.fetchone()
        kept: dict = {}
        if by_dependents:
            cursor.execute(queries.ARCHIVE_KEPT_BY_DEPENDENTS, params)
            kept["live_dependents"] = {
                "workflows": by_dependents,
                "reason": "a task of another, live workflow depends on one of its tasks",
                "sample": [
                    {"workflow": wf, "task": task, "dependent_task": dep, "dependent_workflow": dwf}
                    for wf, task, dep, dwf in cursor.fetchall()
                ],
            }
        if by_hold:
            cursor.execute(queries.ARCHIVE_KEPT_BY_HOLD, params)
            kept["restored"] = {
                "workflows": by_hold,
                "reason": "restored from the archive and not completed again since",
                "sample": [
                    {"workflow": wf, "restored_at": at.isoformat()} for wf, at in cursor.fetchall()
                ],
            }
    return kept


# --- maintenance --------------------------------------------------------------------------------
def stale_statistics(*, min_rows: int, ratio: float) -> list[dict]:
    return fetch(queries.STALE_STATISTICS, {"min_rows": min_rows, "ratio": ratio})


def partitioned_parents() -> list[dict]:
    return fetch(queries.PARTITIONED_PARENTS)


def vacuum_candidates(*, min_dead: int, ratio: float) -> list[dict]:
    rows = fetch(queries.VACUUM_CANDIDATES, {"min_dead": min_dead, "ratio": ratio})
    for row in rows:
        row["dead_ratio"] = float(row["dead_ratio"])
    return rows
