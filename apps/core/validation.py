"""Checks for values PostgreSQL or Python cannot store or read back safely, shared by forms,
services and the file-store importer.

- Text may not contain NUL (PostgreSQL `text` and `jsonb` refuse it) or lone surrogates (not
  encodable as UTF-8).
- JSON may not nest deeper than `FLOWBASE_JSON_MAX_DEPTH` (default 64): deeper documents make
  `json.loads`/`json.dumps` hit Python's recursion limit on every later read of the row. It may
  not hold NaN or infinities either (jsonb has no such numbers).

Every function walks iteratively, so a hostile document cannot exhaust the stack of the check
itself. Messages name the field; callers prefix the record.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Identifiers typed by users follow the floor's rules; named here for the admin and commands.
from apps.pg.values import BIGINT_MAX, ascii_digits, parse_id  # noqa: F401

DEFAULT_JSON_MAX_DEPTH = 64
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_max_depth() -> int:
    return int(getattr(settings, "FLOWBASE_JSON_MAX_DEPTH", DEFAULT_JSON_MAX_DEPTH))


# --- text ----------------------------------------------------------------------------------


def _where(field: str | None, path: str) -> str:
    """'requirements[2].name: ' for a field, '[2].name: ' (or '') inside a form field."""
    if field:
        return f"{field}{path}: "
    return f"{path.lstrip('.')}: " if path else ""


def _message(where: str, text: str) -> str:
    return f"{where}{text}" if where else text[:1].upper() + text[1:]


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store `value` as text, or None."""
    position = value.find("\x00")
    if position >= 0:
        return f"contains a NUL character (U+0000) at position {position}"
    match = LONE_SURROGATE.search(value)
    if match:
        return (
            f"contains a lone surrogate (U+{ord(match.group()):04X}) at position "
            f"{match.start()}: not valid Unicode text"
        )
    return None


def check_text(value: Any, *, field: str | None) -> list[str]:
    if not isinstance(value, str):
        return []
    problem = text_problem(value)
    return [_message(_where(field, ""), problem)] if problem else []


# --- JSON ----------------------------------------------------------------------------------


def json_depth(value: Any, *, stop_above: int | None = None) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0, `[]` is 1, `[[]]` is 2).

    Stops walking as soon as the depth exceeds `stop_above` (the answer is then that depth)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if stop_above is not None and deepest > stop_above:
                return deepest
        stack.extend((child, depth) for child in children if isinstance(child, dict | list | tuple))
    return deepest


def check_json(value: Any, *, field: str | None, max_depth: int | None = None) -> list[str]:
    """Problems of a decoded JSON value: depth, NUL/surrogates in keys and strings, NaN/inf.
    `field` prefixes each message (None inside a form field, which names itself)."""
    limit = json_max_depth() if max_depth is None else max_depth
    too_deep = [_message(_where(field, ""), f"JSON is nested deeper than {limit} levels")]
    if isinstance(value, TooDeepJSON) or json_depth(value, stop_above=limit) > limit:
        return too_deep
    problems: list[str] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack and len(problems) < 5:
        node, path = stack.pop()
        if isinstance(node, str):
            problem = text_problem(node)
            if problem:
                problems.append(_message(_where(field, path), f"a string {problem}"))
        elif isinstance(node, float):
            if not math.isfinite(node):
                problems.append(_message(_where(field, path), f"{node} is not a JSON number"))
        elif isinstance(node, dict):
            for key, child in node.items():
                key_text = str(key)
                problem = text_problem(key_text)
                if problem:
                    problems.append(_message(_where(field, path), f"a key {problem}"))
                stack.append((child, f"{path}.{key_text[:40]}"))
        elif isinstance(node, list | tuple):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(node))
    return problems


def parse_json(
    raw: str | bytes, *, field: str | None, max_depth: int | None = None, decoder=None
) -> Any:
    """`json.loads` that refuses what the checks above refuse, with one ValidationError naming
    the field instead of a RecursionError, a ValueError or a document PostgreSQL would reject."""
    limit = json_max_depth() if max_depth is None else max_depth
    where = _where(field, "")
    try:
        value = json.loads(raw, cls=decoder)
    except RecursionError:
        message = _message(where, f"JSON is nested deeper than {limit} levels")
        raise ValidationError(message, code="json_depth") from None
    except ValueError as exc:  # JSONDecodeError, or an integer beyond Python's digit limit
        message = _message(where, f"not valid JSON ({str(exc)[:200]})")
        raise ValidationError(message, code="invalid") from None
    problems = check_json(value, field=field, max_depth=limit)
    if problems:
        raise ValidationError(problems, code="json_content")
    return value


def validate_json(value: Any, *, field: str | None, max_depth: int | None = None) -> Any:
    problems = check_json(value, field=field, max_depth=max_depth)
    if problems:
        raise ValidationError(problems, code="json_content")
    return value


def validate_text(value: Any, *, field: str | None) -> Any:
    problems = check_text(value, field=field)
    if problems:
        raise ValidationError(problems, code="text_content")
    return value


def check_value(value: Any, *, field: str | None) -> list[str]:
    """Text or JSON-like value: whichever checks apply."""
    if isinstance(value, str) and not isinstance(value, TooDeepJSON):
        return check_text(value, field=field)
    if isinstance(value, dict | list | tuple | TooDeepJSON):
        return check_json(value, field=field)
    return []


class TooDeepJSON(str):
    """A stored JSON document nested deeper than the limit, kept as its exact text.

    Reading such a row hands this out instead of nested Python objects, so pages that show or
    re-encode the value cannot hit the recursion limit; saving it back writes the same text."""


# --- model instances and validators ----------------------------------------------------------


def instance_problems(instance) -> dict[str, list[str]]:
    """NUL/surrogates in text fields and the JSON checks in JSON fields of a model instance,
    by field name (messages without the name, as in a ValidationError's error_dict)."""
    from django.db import models

    problems: dict[str, list[str]] = {}
    for f in instance._meta.concrete_fields:
        if not isinstance(f, models.CharField | models.TextField | models.JSONField):
            continue
        value = getattr(instance, f.attname, None)
        found = (
            check_json(value, field=None)
            if isinstance(f, models.JSONField)
            else check_text(value, field=None)
        )
        if found:
            problems[f.name] = found
    return problems


def validate_instance(instance) -> None:
    problems = instance_problems(instance)
    if problems:
        raise ValidationError(problems)


@deconstructible
class JSONContentValidator:
    """Model/form field validator: the JSON checks (the field names itself in the error)."""

    code = "json_content"

    def __call__(self, value: Any) -> None:
        problems = check_json(value, field=None)
        if problems:
            raise ValidationError(problems, code=self.code)

    def __eq__(self, other) -> bool:
        return isinstance(other, JSONContentValidator)
