"""Time partitioning shared by every partitioned model (events, runs, audit, and any app's).

* `AlignedTimeStrategy`: whole UTC days or months, never the current hour (psqlextra #269,
  stack-pitfalls §1.3); `behind` partitions before the current one and `ahead` after it.
  It never deletes: retention is a DETACH into the `archive` schema (`partition_services`).
* `PartitionPolicy`: the psqlextra config (`CONFIGS = [...]` in `<app>/partitioning.py`) plus
  the retention and lock settings used by `manage.py partitions`.
* Read-only catalog queries (`partitioned_table_list`, `partition_list`,
  `default_partition_report`) that any code may import (DB health, admin pages, alerts).

All raw SQL of the partition tooling lives in `partition_sql`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

from dateutil.relativedelta import relativedelta
from django.db import connections
from psqlextra.partitioning import (
    PostgresCurrentTimePartitioningStrategy,
    PostgresPartitioningConfig,
    PostgresTimePartitionSize,
)

from . import partition_sql

ARCHIVE_SCHEMA = "archive"
DEFAULT_LOCK_TIMEOUT = "2s"
# Exact count of a default partition up to this many rows (it should hold none at all).
DEFAULT_PARTITION_COUNT_CAP = 100_000

Unit = Literal["days", "months"]
NAME_FORMATS: dict[str, str] = {"months": "p%Y%m", "days": "p%Y%m%d"}


def utc_now() -> datetime:
    return datetime.now(UTC)


def truncate(moment: datetime, unit: Unit) -> datetime:
    """Start of the UTC day or month holding `moment` (aware, UTC)."""
    if moment.tzinfo is None:
        raise ValueError("truncate() needs an aware datetime")
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.replace(day=1) if unit == "months" else start


def describe_delta(delta: relativedelta | None) -> str:
    """'1 year', '30 days', … for messages; 'none' for no retention."""
    if delta is None:
        return "none"
    parts = [
        f"{value} {name if value != 1 else name[:-1]}"
        for name in ("years", "months", "days")
        if (value := getattr(delta, name, 0))
    ]
    return " ".join(parts) or str(delta)


def step(unit: Unit, n: int = 1) -> relativedelta:
    return relativedelta(months=n) if unit == "months" else relativedelta(days=n)


class AlignedTimeStrategy(PostgresCurrentTimePartitioningStrategy):
    """Partitions of one UTC day or one UTC month, aligned on midnight / the 1st.

    psqlextra's own strategy keeps the current hour in month/week bounds (issue #269), so a run
    at another hour plans an overlapping partition and fails. Here the start is truncated first.
    """

    def __init__(
        self,
        *,
        unit: Unit,
        ahead: int,
        behind: int = 1,
        name_format: str | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        if unit not in NAME_FORMATS:
            raise ValueError(f"unit must be 'days' or 'months', not {unit!r}")
        if ahead < 0 or behind < 0:
            raise ValueError("ahead and behind must be >= 0")
        size = PostgresTimePartitionSize(**{unit: 1})
        super().__init__(
            size=size,
            count=behind + 1 + ahead,
            max_age=None,
            name_format=name_format or NAME_FORMATS[unit],
        )
        self.unit: Unit = unit
        self.ahead = ahead
        self.behind = behind
        self.now = now

    def get_start_datetime(self) -> datetime:
        return truncate(self.now(), self.unit) - step(self.unit, self.behind)

    def to_delete(self):
        # Never DROP: `pgpartition --yes` must not destroy data. Retention = partitions detach.
        return iter(())


class PartitionPolicy(PostgresPartitioningConfig):
    """psqlextra config + retention: what `pgpartition` and `manage.py partitions` act on."""

    def __init__(
        self,
        model,
        *,
        unit: Unit,
        ahead: int | None = None,
        behind: int = 1,
        retention: relativedelta | None = None,
        lock_timeout: str = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        if ahead is None:
            ahead = 3 if unit == "months" else 14
        strategy = AlignedTimeStrategy(unit=unit, ahead=ahead, behind=behind)
        super().__init__(model, strategy)
        if retention is not None:
            now = utc_now()
            oldest_kept = truncate(now, unit) - step(unit, behind)
            if truncate(now - retention, unit) >= oldest_kept:
                raise ValueError(
                    f"{model.__name__}: retention {retention} is shorter than the {behind} "
                    f"partition(s) kept behind; detached partitions would be re-created"
                )
        self.unit: Unit = unit
        self.retention = retention
        self.lock_timeout = lock_timeout

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def key_column(self) -> str:
        key = self.model._partitioning_meta.key[0]
        return self.model._meta.get_field(key).column


def policy_list() -> list[PostgresPartitioningConfig]:
    """Every partitioning config of the project (all apps), in a stable order."""
    from apps.core.partitioning import manager

    return sorted(manager.configs, key=lambda c: c.model._meta.db_table)


# --- read-only catalog queries ---------------------------------------------------------------


@dataclass(frozen=True)
class PartitionInfo:
    parent: str
    schema: str
    name: str
    is_default: bool
    range_from: datetime | None
    range_to: datetime | None
    bound: str
    row_estimate: int | None  # None: never analyzed (reltuples = -1)
    total_bytes: int
    comment: str | None

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("range_from", "range_to"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def partitioned_table_list(using: str = "default") -> list[str]:
    """Names of all partitioned (parent) tables in the current schema."""
    with connections[using].cursor() as cursor:
        cursor.execute(partition_sql.PARTITIONED_TABLES)
        return [row[0] for row in cursor.fetchall()]


def partition_list(table: str, using: str = "default") -> list[PartitionInfo]:
    """Partitions of `table`, ranges in order, the default partition last."""
    with connections[using].cursor() as cursor:
        cursor.execute(partition_sql.PARTITIONS, [table])
        rows = cursor.fetchall()
    return [
        PartitionInfo(
            parent=table,
            schema=schema,
            name=name,
            is_default=is_default,
            range_from=range_from,
            range_to=range_to,
            bound=bound,
            row_estimate=None if reltuples < 0 else reltuples,
            total_bytes=total_bytes,
            comment=comment,
        )
        for (
            schema,
            name,
            is_default,
            range_from,
            range_to,
            bound,
            reltuples,
            total_bytes,
            comment,
        ) in rows
    ]


@dataclass(frozen=True)
class DefaultPartitionReport:
    """Rows in a DEFAULT partition: data outside every range. Should always be zero."""

    parent: str
    partition: str
    rows: int
    capped: bool  # True: at least `rows` rows (the count stopped at the cap)
    oldest: datetime | None
    newest: datetime | None

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("oldest", "newest"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def default_partition_report(
    table: str,
    key_column: str,
    using: str = "default",
    cap: int = DEFAULT_PARTITION_COUNT_CAP,
) -> DefaultPartitionReport | None:
    """Exact row count (capped) and key range of `table`'s default partition; None if absent."""
    connection = connections[using]
    default = next((p for p in partition_list(table, using) if p.is_default), None)
    if default is None:
        return None
    sql = partition_sql.default_sample(
        connection.ops.quote_name, default.schema, default.name, key_column
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [cap + 1])
        rows, oldest, newest = cursor.fetchone()
    return DefaultPartitionReport(
        parent=table,
        partition=default.name,
        rows=min(rows, cap),
        capped=rows > cap,
        oldest=oldest,
        newest=newest,
    )


def default_partition_rows(using: str = "default") -> list[DefaultPartitionReport]:
    """The alarm: one report per configured model whose default partition holds rows."""
    reports = []
    for config in policy_list():
        report = default_partition_report(
            config.model._meta.db_table, _key_column(config.model), using
        )
        if report is not None and report.rows:
            reports.append(report)
    return reports


def _key_column(model) -> str:
    return model._meta.get_field(model._partitioning_meta.key[0]).column
