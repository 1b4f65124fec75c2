"""Partitioning policies of the events app (collected by apps.pg.partitioning.manager)."""

from dateutil.relativedelta import relativedelta

from apps.pg.partitioning import PartitionPolicy

from .models import Event, PerformanceMetric

CONFIGS = [
    # ~10^5-10^6 rows/month; kept a year online, then detached to the archive schema.
    PartitionPolicy(Event, unit="months", ahead=3, retention=relativedelta(months=12)),
    # Highest volume, read as "last 24 h / 7 d": one partition per UTC day, 30 days online.
    # behind=7: the admin's default 7-day window is covered by real partitions from day one.
    PartitionPolicy(
        PerformanceMetric, unit="days", ahead=14, behind=7, retention=relativedelta(days=30)
    ),
]
