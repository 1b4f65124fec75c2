"""Human units: bytes, durations, counts with separators (template filters in
apps/dbhealth/templatetags/human.py, admin columns, charts' titles)."""

from __future__ import annotations

MISSING = "\u2013"  # en dash
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _number(value) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def human_bytes(value) -> str:
    n = _number(value)
    if n is None:
        return MISSING
    unit = 0
    while abs(n) >= 1024 and unit < len(_BYTE_UNITS) - 1:
        n /= 1024
        unit += 1
    return f"{n:,.0f} {_BYTE_UNITS[unit]}" if unit == 0 else f"{n:,.1f} {_BYTE_UNITS[unit]}"


def human_seconds(value) -> str:
    s = _number(value)
    if s is None:
        return MISSING
    if abs(s) < 1:
        return f"{s * 1000:,.0f} ms"
    if abs(s) < 120:
        return f"{s:,.1f} s"
    if abs(s) < 7200:
        return f"{s / 60:,.1f} min"
    if abs(s) < 172_800:
        return f"{s / 3600:,.1f} h"
    return f"{s / 86400:,.1f} d"


def human_ms(value) -> str:
    ms = _number(value)
    return MISSING if ms is None else human_seconds(ms / 1000)


def human_count(value) -> str:
    n = _number(value)
    if n is None:
        return MISSING
    return f"{n:,.0f}" if n == int(n) else f"{n:,.2f}"
