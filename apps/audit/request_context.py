"""Who is acting and in which request, readable by the database through session settings.

`bind()` stores the values in a context variable; `apply_to_session()` copies them into the
`flowbase.user_id` / `flowbase.request_id` settings, which the audit triggers read.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class RequestContext:
    user_id: int | None = None
    request_id: str | None = None


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "flowbase_request_context", default=None
)


def current() -> RequestContext:
    return _current.get() or _EMPTY


@contextlib.contextmanager
def bind(*, user_id: int | None, request_id: str | None) -> Iterator[None]:
    token = _current.set(RequestContext(user_id=user_id, request_id=request_id))
    try:
        yield
    finally:
        _current.reset(token)


def _set(user_id: str, request_id: str, *, local: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('flowbase.user_id', %s, %s), set_config('flowbase.request_id', %s, %s)",
            [user_id, local, request_id, local],
        )


def transaction_settings() -> dict[str, str]:
    ctx = current()
    return {
        "flowbase.user_id": "" if ctx.user_id is None else str(ctx.user_id),
        "flowbase.request_id": ctx.request_id or "",
    }


def apply_to_session() -> None:
    """Copy the context into the connection's session (a request); undo with clear_session()."""
    ctx = current()
    _set("" if ctx.user_id is None else str(ctx.user_id), ctx.request_id or "", local=False)


def clear_session() -> None:
    _set("", "", local=False)
