"""SQLSTATEs and error text of database errors, for retries, reports and pages."""

from __future__ import annotations

from django.db import DatabaseError

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout
QUERY_CANCELED = "57014"  # statement_timeout
RETRYABLE_SQLSTATES = frozenset({SERIALIZATION_FAILURE, DEADLOCK_DETECTED})


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (Django wraps the psycopg error as its __cause__)."""
    for error in (exc, exc.__cause__):
        state = getattr(error, "sqlstate", None)
        if state:
            return state
    return None


def first_line(exc: BaseException, *, limit: int | None = None) -> str:
    """The first line of an error's message (or its class name): for logs, reports and pages."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit] if limit else line


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseError) and sqlstate(exc) in RETRYABLE_SQLSTATES


def is_lock_timeout(exc: BaseException) -> bool:
    return sqlstate(exc) == LOCK_NOT_AVAILABLE
