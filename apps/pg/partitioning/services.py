"""Writes of the partition tooling: create ahead, detach old partitions into `archive`.

Both are dry runs unless `apply=True`, both are generic over every configured model
(`policy_list()`), and both take the parent's lock under `SET LOCAL lock_timeout`, one
partition per transaction, so a long reader on a busy parent makes us give up (and report it)
instead of queueing every later query behind our AccessExclusive lock request.

DDL runs on the owner connection (`using` defaults to it, `hooks.ddl_alias`): a partition is then
owned by the owner, gets its default privileges and, in the same transaction, exactly the grants
of its parent (`hooks.grants_sync`; the app may only append to the audit log's partitions), so
the app can use it at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import pgtrigger
from django.db import DatabaseError, connections, transaction
from psqlextra.partitioning.constants import AUTO_PARTITIONED_COMMENT

from .. import catalog
from ..errors import first_line, is_lock_timeout
from ..locks import set_local_lock_timeout
from . import hooks
from . import sql as partition_sql
from .policy import (
    ARCHIVE_SCHEMA,
    DEFAULT_LOCK_TIMEOUT,
    PartitionPolicy,
    describe_delta,
    key_column,
    policy_list,
    truncate,
    utc_now,
)
from .signals import partition_detached


@dataclass
class PartitionAction:
    model: str
    table: str
    partition: str
    action: str  # "create" | "detach"
    range_from: datetime | None
    range_to: datetime | None
    status: str  # "planned" | "done" | "skipped" | "blocked" | "failed"
    reason: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("range_from", "range_to"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _policies(models: Iterable | None) -> list:
    configs = policy_list()
    if models is not None:
        wanted = set(models)
        configs = [c for c in configs if c.model in wanted]
    return configs


def _lock_timeout(config) -> str:
    return getattr(config, "lock_timeout", DEFAULT_LOCK_TIMEOUT)


def partitions_create(
    *,
    apply: bool = False,
    move_default_rows: bool = False,
    models: Iterable | None = None,
    using: str | None = None,
) -> list[PartitionAction]:
    """Create the partitions each strategy wants that do not exist yet (idempotent).

    A planned range is skipped when an existing partition already covers it exactly, and
    reported `blocked` when it partly overlaps one, or when rows for it sit in the default
    partition (PostgreSQL would refuse the CREATE) unless `move_default_rows`: then those rows
    are moved into the new partition in the same transaction (DELETE … RETURNING into a temporary
    table, CREATE, INSERT back through the parent; the model's pgtriggers, such as the audit
    log's append-only guard, are ignored for that transaction only).
    """
    using = using or hooks.ddl_alias()
    connection = connections[using]
    actions: list[PartitionAction] = []
    for config in _policies(models):
        table = config.model._meta.db_table
        listed = catalog.partition_list(table, using)
        existing = [p for p in listed if not p.is_default]
        default = next((p for p in listed if p.is_default), None)
        key = key_column(config.model)
        for partition in config.strategy.to_create():
            name = f"{table}_{partition.name()}"
            if not hasattr(partition, "start_datetime"):  # not a time range: match by name only
                if any(p.name == name for p in existing):
                    continue
                actions.append(
                    PartitionAction(
                        config.model.__name__,
                        table,
                        name,
                        "create",
                        None,
                        None,
                        "blocked",
                        "not a time partition: use pgpartition",
                    )
                )
                continue
            start = partition.start_datetime.replace(tzinfo=UTC)
            end = partition.end_datetime.replace(tzinfo=UTC)
            action = PartitionAction(
                config.model.__name__, table, name, "create", start, end, "planned"
            )
            same = next((p for p in existing if p.range_from == start and p.range_to == end), None)
            overlap = next(
                (
                    p
                    for p in existing
                    if p.range_from is not None
                    and p.range_to is not None
                    and p.range_from < end
                    and start < p.range_to
                ),
                None,
            )
            if same is not None:
                continue  # already there (possibly under another name): nothing to do
            if overlap is not None:
                action.status = "blocked"
                action.reason = f"overlaps existing partition {overlap.name}"
                actions.append(action)
                continue
            if default is not None:
                stray = catalog.rows_in_range(
                    default.schema, default.name, key, start, end, using=using
                )
                if stray and not move_default_rows:
                    action.status = "blocked"
                    action.reason = (
                        f"{stray} row(s) for this range are in {default.name}; move them out "
                        "first (or pass move_default_rows / --move-default-rows)"
                    )
                    actions.append(action)
                    continue
                if stray:
                    action.reason = f"moves {stray} row(s) out of {default.name}"
            else:
                stray = 0
            if apply:
                try:
                    _create_partition(
                        config, partition, default, key, stray, connection=connection, using=using
                    )
                    action.status = "done"
                except DatabaseError as exc:
                    action.status = "failed"
                    action.reason = _reason(exc)
            actions.append(action)
    return actions


def _create_partition(config, partition, default, key, stray, *, connection, using) -> None:
    table = config.model._meta.db_table
    stash = f"_stash_{table}"
    with transaction.atomic(using=using):
        set_local_lock_timeout(_lock_timeout(config), using=using)
        moved = 0
        if stray:
            with pgtrigger.ignore(databases=[using]), connection.cursor() as cursor:
                cursor.execute(
                    partition_sql.stash_default_rows(default.schema, default.name, key, stash),
                    [
                        partition.start_datetime.replace(tzinfo=UTC),
                        partition.end_datetime.replace(tzinfo=UTC),
                    ],
                )
                moved = cursor.rowcount
        with connection.schema_editor() as editor:
            partition.create(config.model, editor, comment=AUTO_PARTITIONED_COMMENT)
        hooks.grants_sync(
            schema=catalog.schema_of(table, using=using),
            name=f"{table}_{partition.name()}",
            using=using,
        )
        if moved:
            with connection.cursor() as cursor:
                cursor.execute(partition_sql.restore_stashed_rows(table, stash))
                if cursor.rowcount != moved:
                    raise DatabaseError(
                        f"re-inserted {cursor.rowcount} of {moved} row(s) moved from {default.name}"
                    )


def partitions_detach(
    *,
    apply: bool = False,
    models: Iterable | None = None,
    now: datetime | None = None,
    using: str | None = None,
) -> list[PartitionAction]:
    """Move partitions entirely older than their model's retention into the `archive` schema.

    `ALTER TABLE parent DETACH PARTITION p; ALTER TABLE p SET SCHEMA archive` per partition, in its
    own transaction under `SET LOCAL lock_timeout`. Nothing is dropped: archived tables keep
    every row and can be dumped, re-attached or dropped by hand. Its grants become those of an
    archived table (the app may read it; the read-only role only if it is domain data).
    """
    using = using or hooks.ddl_alias()
    connection = connections[using]
    now = now or utc_now()
    actions: list[PartitionAction] = []
    for config in _policies(models):
        retention = getattr(config, "retention", None)
        if retention is None:
            continue
        unit = config.unit if isinstance(config, PartitionPolicy) else "days"
        cutoff = truncate(now - retention, unit)
        table = config.model._meta.db_table
        for part in catalog.partition_list(table, using):
            if part.is_default or part.range_to is None or part.range_to > cutoff:
                continue
            action = PartitionAction(
                config.model.__name__,
                table,
                part.name,
                "detach",
                part.range_from,
                part.range_to,
                "planned",
                f"older than {cutoff:%Y-%m-%d} (retention {describe_delta(retention)})",
            )
            if apply:
                try:
                    with transaction.atomic(using=using), connection.cursor() as cursor:
                        set_local_lock_timeout(_lock_timeout(config), cursor=cursor)
                        for statement in partition_sql.detach_into_schema(
                            table, part.schema, part.name, ARCHIVE_SCHEMA
                        ):
                            cursor.execute(statement)
                        hooks.grants_sync(schema=ARCHIVE_SCHEMA, name=part.name, using=using)
                        partition_detached.send(
                            sender=config.model,
                            range_from=part.range_from,
                            range_to=part.range_to,
                            partition=part.name,
                            using=using,
                        )
                    action.status = "done"
                except DatabaseError as exc:
                    action.status = "failed"
                    action.reason = _reason(exc)
            actions.append(action)
    return actions


def _reason(exc: DatabaseError) -> str:
    if is_lock_timeout(exc):
        return "lock_timeout: the parent table is busy; retry later"
    return first_line(exc)
