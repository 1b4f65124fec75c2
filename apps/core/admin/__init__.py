from .base import BigTableAdmin, ReadOnlyAdminMixin, ReplicaChangeListMixin
from .forms import DatabaseRulesForm
from .paginator import EstimatedCountPaginator, estimated_row_count

__all__ = [
    "BigTableAdmin",
    "DatabaseRulesForm",
    "EstimatedCountPaginator",
    "ReadOnlyAdminMixin",
    "ReplicaChangeListMixin",
    "estimated_row_count",
]
