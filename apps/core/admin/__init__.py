from .base import BigTableAdmin, ReadOnlyAdminMixin
from .paginator import EstimatedCountPaginator, estimated_row_count

__all__ = ["BigTableAdmin", "EstimatedCountPaginator", "ReadOnlyAdminMixin", "estimated_row_count"]
