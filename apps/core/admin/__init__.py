from .base import BigTableAdmin, ReadOnlyAdminMixin
from .forms import DatabaseRulesForm
from .paginator import EstimatedCountPaginator, estimated_row_count

__all__ = [
    "BigTableAdmin",
    "DatabaseRulesForm",
    "EstimatedCountPaginator",
    "ReadOnlyAdminMixin",
    "estimated_row_count",
]
