"""Human units for templates: bytes, durations, counts with separators, readable JSON.

`{% load human %}`; each filter shows a dash for a missing value rather than "None".
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html, format_html_join

from apps.core.units import human_bytes, human_count, human_ms, human_seconds

register = template.Library()

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
