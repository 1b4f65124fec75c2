"""The partitioning toolkit: policy (`policy`), catalog reads and the default-partition alarm
(`reports`), create/detach (`services`), the shadow-model admin pieces (`admin`), model fields
(`fields`), the system check (`checks`) and the psqlextra manager (`manager`).

Models declare `CONFIGS = [PartitionPolicy(...)]` in `<app>/partitioning.py`; `manage.py
partitions list|create|detach` and the maintenance jobs act on every one of them.
"""

from ..catalog import PartitionInfo, partition_list, partitioned_table_list
from .policy import (
    ARCHIVE_SCHEMA,
    DEFAULT_LOCK_TIMEOUT,
    AlignedTimeStrategy,
    PartitionPolicy,
    describe_delta,
    key_column,
    policy_list,
    step,
    truncate,
    utc_now,
)
from .reports import (
    DEFAULT_PARTITION_COUNT_CAP,
    DefaultPartitionReport,
    default_partition_alarms,
    default_partition_report,
)

__all__ = [
    "ARCHIVE_SCHEMA",
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_PARTITION_COUNT_CAP",
    "AlignedTimeStrategy",
    "DefaultPartitionReport",
    "PartitionInfo",
    "PartitionPolicy",
    "default_partition_alarms",
    "default_partition_report",
    "describe_delta",
    "key_column",
    "partition_list",
    "partitioned_table_list",
    "policy_list",
    "step",
    "truncate",
    "utc_now",
]
