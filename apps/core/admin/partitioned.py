"""The read-only admin of a partitioned table's shadow model: the partition toolkit's search and
window filter (apps.pg.partitioning.admin) on the project's big-table admin base."""

from apps.pg.partitioning.admin import PartitionedShadowMixin

from .base import BigTableAdmin, ReadOnlyAdminMixin


class PartitionedShadowAdmin(PartitionedShadowMixin, ReadOnlyAdminMixin, BigTableAdmin):
    pass
