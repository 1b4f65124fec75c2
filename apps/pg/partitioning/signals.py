"""Signals of the partition tooling, for apps that keep something derived from a table's rows.

`partition_detached` is sent inside the transaction of the DETACH (a detach fires no row or
statement trigger), with `sender` the partitioned model, `range_from`/`range_to` the detached
partition's bounds, `partition` its name and `using` the alias that ran it.
"""

from django.dispatch import Signal

partition_detached = Signal()
