"""Values as PostgreSQL stores them: ids are positive bigints, jsonb holds plain JSON."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils.duration import duration_iso_string

BIGINT_MAX = 2**63 - 1


def ascii_digits(term: str) -> bool:
    """Only 0-9: `'²'.isdigit()` and `'٣'.isdigit()` are true, yet `int('²')` fails."""
    return term.isascii() and term.isdigit()


def parse_id(term: str) -> int | None:
    """A search term that is a positive bigint made of ASCII digits ('²' and '٣' are not)."""
    term = term.strip()
    if not ascii_digits(term) or len(term) > 19:
        return None
    value = int(term)
    return value if 0 < value <= BIGINT_MAX else None


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data for a jsonb column (job details, finding evidence, samples).

    Dict keys become strings, tuples and sets lists, datetimes/dates/times ISO 8601 (full
    precision), durations ISO 8601 too; NaN and infinities become strings ('NaN'), as jsonb has
    no such numbers; anything else (Decimal, UUID, lazy text) its str().
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return duration_iso_string(value)
    return str(value)
