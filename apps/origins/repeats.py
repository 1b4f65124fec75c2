"""Requests that sent one query shape many times, kept for the test suite's N+1 guard."""

from __future__ import annotations

from django.conf import settings

_seen: list[tuple[str, list[tuple[str, int]]]] = []


def record(where: str, repeated: list[tuple[str, int]]) -> None:
    if getattr(settings, "QUERY_REPEAT_RECORD", False):
        _seen.append((where, repeated))


def take() -> list[tuple[str, list[tuple[str, int]]]]:
    seen = list(_seen)
    _seen.clear()
    return seen


def runs_a_batch(view):
    """Mark a view that runs a batch in the request (e.g. every data-quality check, each in its
    own sandboxed transaction): one query shape per item is its nature, not an N+1 pattern."""
    view.runs_a_batch = True
    return view
