"""The default-partition alarm: rows outside every range sit in a DEFAULT partition, which
should always be empty. One function (`default_partition_alarms`) that the system check, the
`partitions` command and DB health all raise it from, with one message."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS

from .. import catalog
from .policy import key_column, policy_list

# Exact count of a default partition up to this many rows (it should hold none at all).
DEFAULT_PARTITION_COUNT_CAP = 100_000


@dataclass(frozen=True)
class DefaultPartitionReport:
    """Rows in a DEFAULT partition: data outside every range. Should always be zero."""

    parent: str
    partition: str
    rows: int
    capped: bool  # True: at least `rows` rows (the count stopped at the cap)
    oldest: datetime | None
    newest: datetime | None

    @property
    def rows_text(self) -> str:
        return f"{self.rows}{'+' if self.capped else ''}"

    def message(self, *, separator: str = "..") -> str:
        return (
            f"{self.partition} holds {self.rows_text} row(s) outside every partition "
            f"({self.oldest} {separator} {self.newest})"
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("oldest", "newest"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def default_partition_report(
    table: str,
    key: str,
    using: str = DEFAULT_DB_ALIAS,
    cap: int = DEFAULT_PARTITION_COUNT_CAP,
) -> DefaultPartitionReport | None:
    """Exact row count (capped) and key range of `table`'s default partition; None if absent."""
    default = next((p for p in catalog.partition_list(table, using) if p.is_default), None)
    if default is None:
        return None
    rows, oldest, newest = catalog.key_range(
        default.schema, default.name, key, limit=cap + 1, using=using
    )
    return DefaultPartitionReport(
        parent=table,
        partition=default.name,
        rows=min(rows, cap),
        capped=rows > cap,
        oldest=oldest,
        newest=newest,
    )


def default_partition_alarms(
    using: str = DEFAULT_DB_ALIAS, *, only_existing: bool = False
) -> list[tuple[object, DefaultPartitionReport]]:
    """(model, report) for each configured model whose default partition holds rows.

    `only_existing`: skip models whose table is not migrated yet (the system check runs before
    `migrate` has created them)."""
    existing = set(catalog.partitioned_table_list(using)) if only_existing else None
    alarms = []
    for config in policy_list():
        model = config.model
        table = model._meta.db_table
        if existing is not None and table not in existing:
            continue
        report = default_partition_report(table, key_column(model), using)
        if report is not None and report.rows:
            alarms.append((model, report))
    return alarms
