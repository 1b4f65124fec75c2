"""Moved to the PostgreSQL floor (apps/pg/errors.py, apps/pg/retry.py); re-exported for code that
still imports it from here (apps/dbhealth until it switches)."""

from apps.pg.errors import (  # noqa: F401
    DEADLOCK_DETECTED,
    LOCK_NOT_AVAILABLE,
    RETRYABLE_SQLSTATES,
    SERIALIZATION_FAILURE,
    first_line,
    is_retryable,
    sqlstate,
)
from apps.pg.retry import (  # noqa: F401
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    DEFAULT_ATTEMPTS,
    configured_attempts,
    retry_on_serialization_failure,
)
