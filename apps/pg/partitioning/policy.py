"""Time partitioning policy shared by every partitioned model (events, runs, audit, and any app's).

* `AlignedTimeStrategy`: whole UTC days or months, never the current hour (psqlextra's own
  strategy keeps the hour in month bounds, so a run at another hour plans an overlapping
  partition); `behind` partitions before the current one and `ahead` after it. It never
  deletes: retention is a DETACH into the `archive` schema (`services.partitions_detach`).
* `PartitionPolicy`: the psqlextra config (`CONFIGS = [...]` in `<app>/partitioning.py`) plus
  the retention and lock settings used by `manage.py partitions`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from dateutil.relativedelta import relativedelta
from psqlextra.partitioning import (
    PostgresCurrentTimePartitioningStrategy,
    PostgresPartitioningConfig,
    PostgresTimePartitionSize,
)

ARCHIVE_SCHEMA = "archive"
DEFAULT_LOCK_TIMEOUT = "2s"

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
        return key_column(self.model)


def policy_list() -> list[PostgresPartitioningConfig]:
    """Every partitioning config of the project (all apps), in a stable order."""
    from .manager import manager

    return sorted(manager.configs, key=lambda c: c.model._meta.db_table)


def key_column(model) -> str:
    """The database column of a partitioned model's (first) partition key."""
    return model._meta.get_field(model._partitioning_meta.key[0]).column
