"""Machinery of the hostile-input test: URL enumeration, form extraction, tallies, checksums."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode

from django.contrib import admin
from django.db import connection
from django.urls import URLPattern, URLResolver

TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "site-packages/", "psycopg.")

# --- URL enumeration -----------------------------------------------------------------------


@dataclass(frozen=True)
class AdminRoute:
    route: str  # e.g. "tasks/task/<path:object_id>/change/", relative to /admin/
    name: str | None
    params: tuple[str, ...]
    regex: bool


_ROUTE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>")


def admin_routes() -> list[AdminRoute]:
    """Every URL pattern of admin.site, with its parameter names, resolvers flattened."""

    def walk(patterns, prefix: str, regex: bool):
        for p in patterns:
            kind = type(p.pattern).__name__ == "RegexPattern"
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), regex or kind)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if regex or kind:
                    params = tuple(_REGEX_PARAM.findall(route))
                else:
                    params = tuple(name for _, name in _ROUTE_PARAM.findall(route))
                yield AdminRoute(route, p.name, params, regex or kind)

    return list(walk(admin.site.urls[0], "", False))


def fill_route(route: str, values: dict[str, str]) -> str:
    def sub(match):
        return values[match.group(2)]

    return "/admin/" + _ROUTE_PARAM.sub(sub, route)


def model_admin_for_route(route: str):
    parts = route.split("/")
    if len(parts) < 2:
        return None
    for model, model_admin in admin.site._registry.items():
        if (model._meta.app_label, model._meta.model_name) == (parts[0], parts[1]):
            return model_admin
    return None


# --- requests ------------------------------------------------------------------------------


class Rotation:
    """Hands out the next `k` items of a list on each call, wrapping around: over many URLs every
    item is sent several times, while each URL costs a bounded number of requests."""

    def __init__(self):
        self.offsets: Counter = Counter()

    def take(self, key: str, items: list, k: int) -> list:
        if k >= len(items):
            return list(items)
        start = self.offsets[key]
        self.offsets[key] = (start + k) % len(items)
        return [items[(start + i) % len(items)] for i in range(k)]


def encode(params: dict[str, str | bytes]) -> str:
    """Percent-encode; bytes values (invalid UTF-8, lone surrogates) are sent verbatim."""
    return urlencode(params, doseq=True)


# --- outcomes ------------------------------------------------------------------------------

REFUSED, DATA, ACCEPTED, FAILED = "refused", "handled as data", "redirected (saved)", "FAILED"


@dataclass
class Tally:
    tried: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)  # (category, outcome) -> n
    failures: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    seconds: Counter = field(default_factory=Counter)

    def record(self, category: str, outcome: str, what: str = "", seconds: float = 0.0) -> None:
        self.tried[category] += 1
        self.outcomes[(category, outcome)] += 1
        self.seconds[category] += seconds
        if outcome == FAILED:
            self.failures.append(f"[{category}] {what[:400]}")

    def blocked(self, category: str) -> int:
        return self.tried[category] - self.outcomes[(category, FAILED)]

    def table(self) -> str:
        lines = [f"{'category':<22}{'tried':>7}{'refused':>9}{'as data':>9}{'302':>7}{'5xx':>6}"]
        for category in sorted(self.tried):
            lines.append(
                f"{category:<22}{self.tried[category]:>7}"
                f"{self.outcomes[(category, REFUSED)]:>9}{self.outcomes[(category, DATA)]:>9}"
                f"{self.outcomes[(category, ACCEPTED)]:>7}{self.outcomes[(category, FAILED)]:>6}"
            )
        total = sum(self.tried.values())
        failed = sum(n for (_, o), n in self.outcomes.items() if o == FAILED)
        lines.append(f"{'total':<22}{total:>7}{'':>9}{'':>9}{'':>7}{failed:>6}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            category: {
                "tried": self.tried[category],
                "blocked": self.blocked(category),
                **{o: self.outcomes[(category, o)] for o in (REFUSED, DATA, ACCEPTED, FAILED)},
            }
            for category in sorted(self.tried)
        }


def body_text(response) -> str:
    content = getattr(response, "content", b"")
    return content.decode("utf-8", "replace") if isinstance(content, bytes) else ""


def classify(response) -> tuple[str, str]:
    """(outcome, reason). A 5xx or a traceback in the body is a failure."""
    status = response.status_code
    text = body_text(response)
    for marker in TRACEBACK_MARKERS:
        if marker in text:
            return FAILED, f"traceback marker {marker!r} in a {status} body"
    if status >= 500:
        return FAILED, f"status {status}"
    if 400 <= status < 500:
        return REFUSED, str(status)
    if status in (301, 302, 303, 307, 308):
        location = response.get("Location", "")
        if "e=1" in location or location.rstrip("/").endswith("/admin") or "login" in location:
            return REFUSED, f"redirect to {location}"
        return ACCEPTED, f"redirect to {location}"
    if 'class="errornote"' in text or 'class="errorlist' in text or "messagelist" in text:
        return REFUSED, "form or message error"
    return DATA, str(status)


# --- database checksums ----------------------------------------------------------------------


def tables_checksum(tables: list[str]) -> dict[str, tuple[int, int]]:
    """Row count and a content hash per table (cheap on the demo data set)."""
    if not tables:
        return {}
    parts = [
        f"SELECT %s, count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM {table} t"
        for table in tables
    ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), list(tables))
        return {name: (count, int(digest)) for name, count, digest in cursor.fetchall()}


def quoted_table(model) -> str:
    table = model._meta.db_table
    if "." in table or '"' in table:  # 'archive"."tasks_task' style names
        return f'"{table}"'
    return connection.ops.quote_name(table)


# --- HTML forms ----------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Collect the controls of one <form id=...> as a browser would submit them."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._select_multiple = False
        self._options: list[tuple[str, bool]] = []
        self.kinds: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            self.kinds[name] = kind
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []
            self.kinds[name] = "textarea"
        elif tag == "select" and name:
            self._select, self._options = name, []
            self._select_multiple = "multiple" in a
            self.kinds[name] = "select"
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = [v for v, sel in self._options if sel]
            if not chosen and not self._select_multiple and self._options:
                chosen = [self._options[0][0]]
            self.fields.extend((self._select, v) for v in chosen)
            self._select = None


def extract_form(html: str, form_id: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
    parser = _FormParser(form_id)
    parser.feed(html)
    return parser.fields, parser.kinds
