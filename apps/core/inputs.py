"""Small input checks shared by services (events, runs, audit, embeddings): clear messages, no DB
access. Beside apps.core.validation, whose storage checks (NUL, depth, NaN) they apply."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from .validation import validate_json, validate_text


def required_text(value: Any, *, what: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} is required (a non-empty string), got {value!r}")
    return optional_text(value.strip(), what=what, max_length=max_length)


def optional_text(value: Any, *, what: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > max_length:
        raise ValidationError(f"{what} is {len(value)} characters long; the limit is {max_length}")
    return validate_text(value, field=what)


def optional_id(value: Any, *, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(f"{what} must be a positive integer or None, got {value!r}")
    return value


def json_object(value: Any, *, what: str, allow_none: bool = True) -> dict:
    if value is None and allow_none:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{what} must be a JSON object (dict), got {type(value).__name__}")
    validate_json(value, field=what)  # depth first: json.dumps would recurse on deep input
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serializable: {exc}") from exc
    return value


def finite_number(value: Any, *, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValidationError(f"{what} must be finite, got {value!r}")
    return float(value)


def optional_aware(value: Any, *, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value
