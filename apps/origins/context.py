"""The origin of the statements being sent now: admin view and model, command, Celery task, request id.

A request, a Celery task and a management command each bind their tags; the process default covers
statements sent outside any of them (a `manage.py` command's own process).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_process_default: dict[str, str] = {}
_current: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "flowbase_query_origin", default=None
)


def current() -> dict[str, str]:
    tags = _current.get()
    return _process_default if tags is None else tags


def set_process_default(**tags: str) -> None:
    _process_default.clear()
    _process_default.update({k: v for k, v in tags.items() if v})


@contextlib.contextmanager
def bind(**tags: str) -> Iterator[dict[str, str]]:
    """Tags for the statements sent inside the block; the yielded dict may be filled in later."""
    merged = {**_process_default, **{k: v for k, v in tags.items() if v}}
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)
