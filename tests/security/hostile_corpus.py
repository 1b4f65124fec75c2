"""Hostile inputs, grouped by where they are sent. Written for Flowbase's admin; no external list.

Strings are what an attacker types or scripts: SQL-injection fragments, bad unicode (non-ASCII
digits such as '²', NUL, lone surrogates sent as raw bytes), huge values, 10 kB strings, JSON
nested far beyond any real document, lookups the database refuses, bad page numbers and sorts.
A value given as `bytes` is sent verbatim (percent-encoded) because it is not valid UTF-8.
"""

from __future__ import annotations

import json

LONE_SURROGATE = "\ud800".encode("utf-8", "surrogatepass")  # b'\xed\xa0\x80': not UTF-8
BAD_UTF8 = b"\xff\xfe\xc3("
TEN_KB = "A" * 10_240


def deep_json(depth: int, *, kind: str = "list") -> str:
    if kind == "dict":
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


SQL_INJECTION = [
    "' OR 1=1 --",
    "'; DROP TABLE tasks_task; --",
    '" OR ""="',
    "1) OR (1=1",
    "1; SELECT pg_sleep(10)",
    "' UNION SELECT username, password FROM auth_user --",
    "$$; COPY (SELECT 1) TO PROGRAM 'id'; $$",
    "\\'; SELECT set_config('flowbase.user_id', '1', false); --",
]

BAD_UNICODE: list[str | bytes] = [
    "²",  # a digit to str.isdigit(), not to int()
    "٣",  # an Arabic-Indic three: int() accepts it
    "\x00",
    "a\x00b",
    LONE_SURROGATE,
    BAD_UTF8,
    "\u202e\u2066evil",  # bidi overrides
    "🙂" * 50,
]

HUGE = [TEN_KB, "9" * 40, "-" + "9" * 40, "1e309", "9" * 5000]

# --- query strings -------------------------------------------------------------------------

SEARCH_TERMS: list[str | bytes] = [*SQL_INJECTION[:3], *BAD_UNICODE[:6], *HUGE[:2], "%", "\\"]


def changelist_lookups(text_field: str | None, int_field: str, date_field: str | None):
    """(core, rest): (category, params) pairs for one changelist, built from the model's own
    field names. Every changelist gets the core (one of each kind of attack); the rest is shared
    out in rotation over the changelists, so each of them is sent many times in all."""
    core: list[tuple[str, dict[str, str | bytes]]] = []
    rest: list[tuple[str, dict[str, str | bytes]]] = []
    if text_field:
        core += [
            ("lookups", {f"{text_field}__regex": "(a"}),
            ("lookups", {text_field: "\x00"}),
        ]
        rest += [
            ("lookups", {f"{text_field}__iregex": "[[:nope:]]"}),
            ("lookups", {f"{text_field}__regex": "a{99999999}"}),
            ("lookups", {f"{text_field}__regex": "\\"}),
            ("lookups", {f"{text_field}__startswith": LONE_SURROGATE}),
            ("lookups", {f"{text_field}__in": "a," + TEN_KB}),
            ("lookups", {f"{text_field}__nosuchlookup": "x"}),
            ("lookups", {f"{text_field}__search": "' OR 1=1"}),
        ]
    core += [
        ("lookups", {f"{int_field}__in": "abc"}),
        ("lookups", {"pk": "' OR 1=1"}),
        ("lookups", {f"{int_field}__range": "1"}),
    ]
    rest += [
        ("lookups", {int_field: "²"}),
        ("lookups", {int_field: "9" * 40}),
        ("lookups", {f"{int_field}__gt": "-" + "9" * 40}),
        ("lookups", {f"{int_field}__isnull": "maybe"}),
        ("lookups", {"nosuchfield": "1"}),
        ("lookups", {"nosuchfield__regex": "(a"}),
        ("lookups", {"id__in": ",".join(["1"] * 2000)}),
    ]
    if date_field:
        core += [("date windows", {f"{date_field}__year": "99999999999"})]
        rest += [
            ("date windows", {f"{date_field}__gte": "not-a-date"}),
            ("date windows", {f"{date_field}__lt": "2024-02-30"}),
            ("date windows", {f"{date_field}__date": "²"}),
            ("date windows", {f"{date_field}__gte": "0000-01-01"}),
        ]
    core += [("date windows", {"window": "²"})]
    rest += [
        ("date windows", {"window": "' OR 1=1"}),
        ("date windows", {"window": "all", f"{date_field or int_field}__gte": "9999-99-99"}),
    ]
    core += [("paging and sorting", {"p": "abc"}), ("paging and sorting", {"o": "99"})]
    paging: list[dict[str, str | bytes]] = [
        {"p": "²"},
        {"p": "-1"},
        {"p": "9" * 30},
        {"p": "99999999"},
        {"o": "-0.abc.²"},
        {"o": "1." * 500},
        {"_facets": "1"},
        {"_to_field": "password"},
        {"_popup": "1", "_to_field": "' OR 1=1"},
    ]
    rest += [("paging and sorting", p) for p in paging]
    core += [("search", {"q": "²"}), ("search", {"q": "\x00"}), ("search", {"q": SQL_INJECTION[0]})]
    rest += [("search", {"q": term}) for term in SEARCH_TERMS if term not in ("²", "\x00")]
    return core, rest


# Query strings for any other admin page (add, change, index, ...); the first ones also for the
# cheap pages that only look an object up (delete, history, the old change URL).
GENERIC_QUERIES: list[tuple[str, dict[str, str | bytes]]] = [
    ("paging and sorting", {"page": "²"}),
    ("lookups", {"_changelist_filters": "title__regex=(a&p=abc"}),
    ("lookups", {"_to_field": "password"}),
    ("search", {"q": "\x00"}),
    ("paging and sorting", {"page": "abc"}),
    ("paging and sorting", {"page": "9" * 30}),
    ("search", {"q": "' OR 1=1 --"}),
    ("lookups", {"title": "\x00", "requirements": deep_json(5000)}),  # add-form initial data
    ("lookups", {"next": "//evil.example/"}),
]
CHEAP_PAGE_QUERIES = 4

DBHEALTH_QUERIES: list[dict[str, str | bytes]] = [
    {"page": "abc"},
    {"page": "-5"},
    {"page": "9" * 30},
    {"expand": "²"},
    {"expand": "9" * 30},
    {"expand": "1", "page": "²"},
    {"expand": "' OR 1=1"},
    {"flag": "\x00"},
    {"flag": "unused' OR 1=1"},
    {"q": TEN_KB},
    {"q": LONE_SURROGATE},
    {"show": "all\x00"},
    {"order": "total; DROP TABLE x"},
    {"refresh": "²"},
]

# --- headers -------------------------------------------------------------------------------

HEADERS: list[dict[str, str]] = [
    {"HTTP_X_REQUEST_ID": "r" * 65},
    {"HTTP_X_REQUEST_ID": TEN_KB},
    {"HTTP_X_REQUEST_ID": "abc\r\nSet-Cookie: sessionid=evil"},
    {"HTTP_X_REQUEST_ID": "' OR 1=1 --"},
    {"HTTP_X_REQUEST_ID": "²²²"},
    {"HTTP_X_REQUEST_ID": "\x00"},
    {"HTTP_X_REQUEST_ID": ""},
    {"HTTP_HOST": "evil.example"},
    {"HTTP_X_FORWARDED_FOR": "' OR 1=1, 999.999.1.1"},
    {"HTTP_ACCEPT_LANGUAGE": "²²;q=abc," + "x" * 2000},
    {"HTTP_USER_AGENT": TEN_KB},
    {"HTTP_REFERER": "javascript:alert(1)"},
    {"HTTP_COOKIE": "sessionid=' OR 1=1; csrftoken=²"},
    {"HTTP_AUTHORIZATION": "Bearer " + TEN_KB},
]

# --- form bodies: values per form-field kind -------------------------------------------------

FORM_VALUES: dict[str, list[str | bytes]] = {
    "text": [
        "\x00",
        "a\x00b",
        LONE_SURROGATE,
        TEN_KB,
        "' OR 1=1 --",
        "'; DROP TABLE tasks_task; --",
        "<script>alert(1)</script>",
    ],
    "json": [
        deep_json(65),
        deep_json(1000),
        deep_json(100_000),
        deep_json(900, kind="dict"),
        json.dumps({"a": "\x00"}),
        '{"\\u0000": 1}',
        '["\\ud800"]',
        '{"k": "\\udfff tail"}',
        "NaN",
        "[1e999]",
        "9" * 5000,
        '{"a": ',
        json.dumps({"title": TEN_KB}),
    ],
    "number": ["²", "٣", "9" * 40, "-1", "NaN", "' OR 1=1"],
    "decimal": ["1e999", "NaN", "9" * 30, "-0.01", "²"],
    "choice": ["not-a-choice", "\x00", "' OR 1=1", LONE_SURROGATE],
    "fk": ["abc", "' OR 1=1", "9" * 40, "-1", "²"],
    "date": ["9999-99-99", "0000-01-01", "2024-02-30", "²"],
    "bool": ["²", "\x00", "' OR 1=1"],
}

# Whole-form attacks: every editable field at once.
WHOLE_FORM_VALUES: list[str | bytes] = ["\x00", TEN_KB, "' OR 1=1 --", LONE_SURROGATE]

MANAGEMENT_TAMPERING: list[tuple[str, str]] = [
    ("TOTAL_FORMS", "99999999"),
    ("TOTAL_FORMS", "abc"),
    ("TOTAL_FORMS", "-1"),
    ("INITIAL_FORMS", "²"),
    ("INITIAL_FORMS", "9" * 30),
]
