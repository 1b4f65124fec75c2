"""Re-run a transaction that PostgreSQL refused for a serialization failure or a deadlock.

Under REPEATABLE READ and SERIALIZABLE, PostgreSQL refuses a transaction whose snapshot cannot
see a concurrent writer's change (SQLSTATE 40001, e.g. the dependency-graph version row), and a
deadlock victim gets 40P01. Both are safe to retry by re-running the whole transaction.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

from django.conf import settings
from django.db import DatabaseError, transaction

from .errors import first_line, is_retryable, sqlstate

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_ATTEMPTS = 5
# After the n-th refusal, a random pause of up to BACKOFF_BASE_S * 2**n (capped) spreads retries.
BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 0.5


def configured_attempts() -> int:
    return max(1, int(getattr(settings, "DB_SERIALIZATION_RETRY_ATTEMPTS", DEFAULT_ATTEMPTS)))


@overload
def retry_on_serialization_failure(func: F, /) -> F: ...
@overload
def retry_on_serialization_failure(
    *, attempts: int | None = None, using: str | None = None
) -> Callable[[F], F]: ...
def retry_on_serialization_failure(func=None, /, *, attempts=None, using=None):
    """Run the function in its own `transaction.atomic()`; when the database refuses it with a
    serialization failure or a deadlock, roll back and run it again from the start, at most
    `attempts` times in all (default: settings.DB_SERIALIZATION_RETRY_ATTEMPTS), then re-raise.

    Called inside an outer transaction it cannot re-run that transaction, so it runs once (in a
    savepoint) and leaves the retry to the outermost decorated caller. The function must be
    safe to re-run: state it changes outside the database must be reset at its start.

        @retry_on_serialization_failure
        def task_dependency_create(...): ...

        @retry_on_serialization_failure(attempts=3)
        def write_file(): ...
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if transaction.get_connection(using).in_atomic_block:
                with transaction.atomic(using=using):
                    return fn(*args, **kwargs)
            total = attempts if attempts is not None else configured_attempts()
            for attempt in range(1, total + 1):
                try:
                    with transaction.atomic(using=using):
                        return fn(*args, **kwargs)
                except DatabaseError as exc:
                    if attempt >= total or not is_retryable(exc):
                        raise
                    logger.info(
                        "%s: %s (SQLSTATE %s), retrying (attempt %d of %d)",
                        fn.__qualname__,
                        first_line(exc),
                        sqlstate(exc),
                        attempt + 1,
                        total,
                    )
                    time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
            raise AssertionError("unreachable")  # pragma: no cover

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate
