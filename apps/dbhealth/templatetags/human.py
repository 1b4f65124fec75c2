"""Human units for templates: bytes, durations, counts with separators, readable JSON.

`{% load human %}`; each filter shows a dash for a missing value rather than "None".
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html, format_html_join

register = template.Library()

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


register.filter("bytes", human_bytes)
register.filter("duration", human_seconds)
register.filter("duration_ms", human_ms)
register.filter("count", human_count)


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON (not a Python repr) for a <pre>."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2, sort_keys=True, ensure_ascii=False)


@register.filter
def kv_table(value: Any):
    """A flat mapping as a two-column table; nested values as compact JSON; else pretty JSON."""
    if not isinstance(value, dict) or not value:
        return format_html('<pre class="dbh-sql">{}</pre>', pretty_json(value))
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td></tr>",
        (
            (
                key,
                item
                if isinstance(item, str)
                else json.dumps(item, cls=DjangoJSONEncoder, ensure_ascii=False),
            )
            for key, item in sorted(value.items())
        ),
    )
    return format_html('<table class="dbh-kv"><tbody>{}</tbody></table>', rows)


@register.simple_tag
def code_block(text) -> str:
    """Long SQL/DDL as a one-line preview that expands (<details>, no script needed) and a copy
    button (dbhealth/copy.js shows it; without script the text stays selectable)."""
    text = "" if text is None else str(text)
    if not text.strip():
        return ""
    return format_html(
        '<div class="dbh-code"><details><summary><code>{}</code></summary>'
        '<pre class="dbh-sql">{}</pre></details>'
        '<button type="button" class="dbh-copy" hidden>Copy</button></div>',
        " ".join(text.split())[:400],
        text,
    )
