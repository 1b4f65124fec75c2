"""The sqlcommenter format: `/*key='url-encoded value',…*/` appended to a statement, keys sorted.

PostgreSQL computes pg_stat_statements' queryid from the parse tree, so a comment does not split
an entry — but it does for utility statements (their id hashes the text), hence only plain DML and
queries are tagged.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

TAGGED_STATEMENT = re.compile(r"\s*\(?\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|MERGE)\b", re.I)
TRAILING_COMMENT = re.compile(r"/\*((?:[a-z_]+='[^']*',?)+)\*/\s*;?\s*$", re.I)
_PAIR = re.compile(r"([a-z_]+)='([^']*)'", re.I)
_TRAILING_SEMICOLON = re.compile(r"\s*;\s*$")
# A value is an identifier-like label; longer ones are cut so a statement stays readable.
MAX_VALUE_LENGTH = 120


def format_comment(tags: dict[str, str]) -> str:
    if not tags:
        return ""
    pairs = ",".join(
        f"{key}='{quote(str(value)[:MAX_VALUE_LENGTH], safe='')}'"
        for key, value in sorted(tags.items())
    )
    return f"/*{pairs}*/"


def is_taggable(sql: str) -> bool:
    return bool(TAGGED_STATEMENT.match(sql)) and not TRAILING_COMMENT.search(sql)


def add_comment(sql: str, tags: dict[str, str], *, has_params: bool) -> str:
    """The statement with its origin comment; unchanged when there is nothing to say."""
    comment = format_comment(tags)
    if not comment or not is_taggable(sql):
        return sql
    if has_params:
        comment = comment.replace("%", "%%")  # the driver formats `%s` placeholders
    return f"{_TRAILING_SEMICOLON.sub('', sql)} {comment}"


def parse_comment(sql: str | None) -> dict[str, str]:
    """The tags of a statement's trailing sqlcommenter comment ({} when it has none)."""
    if not sql:
        return {}
    match = TRAILING_COMMENT.search(sql)
    if not match:
        return {}
    return {key: unquote(value) for key, value in _PAIR.findall(match.group(1))}


def origin_label(tags: dict[str, str]) -> str:
    """One short label for a page column: the admin view, else the task, else the command."""
    for key in ("route", "celery_task", "command"):
        if tags.get(key):
            return f"{key.replace('_', ' ')}: {tags[key]}"
    return ""
