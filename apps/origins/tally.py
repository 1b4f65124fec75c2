"""Queries counted per request (or per block), and the same query shape sent again and again.

A shape is the statement with its literals and `IN (…)` lists folded; one shape sent N times in one
request is the N+1 pattern (a query per row of a page).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
_LIST = re.compile(r"\((?:\s*(?:%s|\?)\s*,)+\s*(?:%s|\?)\s*\)")
_SPACE = re.compile(r"\s+")
# A query per row reads or writes a table; per-call session set-up (set_config, clearing the stats
# snapshot before a catalog read) touches none and is not the pattern.
_TOUCHES_TABLE = re.compile(r"\b(FROM|INTO|UPDATE)\b", re.I)


def shape(sql: str) -> str:
    folded = _NUMBER.sub("?", _STRING.sub("?", sql))
    return _SPACE.sub(" ", _LIST.sub("(…)", folded)).strip()


@dataclass
class Tally:
    queries: int = 0
    shapes: Counter = field(default_factory=Counter)

    def add(self, sql: str) -> None:
        self.queries += 1
        if _TOUCHES_TABLE.search(sql):
            self.shapes[shape(sql)] += 1

    def repeated(self, threshold: int) -> list[tuple[str, int]]:
        """Shapes sent at least `threshold` times, most repeated first."""
        return [(s, n) for s, n in self.shapes.most_common() if n >= threshold]


_current: contextvars.ContextVar[Tally | None] = contextvars.ContextVar(
    "flowbase_query_tally", default=None
)


def current() -> Tally | None:
    return _current.get()


@contextlib.contextmanager
def counting() -> Iterator[Tally]:
    tally = Tally()
    token = _current.set(tally)
    try:
        yield tally
    finally:
        _current.reset(token)
