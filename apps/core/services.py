"""Helpers shared by the domain services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from .validation import validate_instance


def validated_save(
    instance: models.Model, *, label: str | None = None, update_fields: list[str] | None = None
) -> models.Model:
    """full_clean() then save(); errors name the record, e.g. "Task 'Ship it': status: …".

    Text and JSON are checked first for what PostgreSQL cannot store or Python cannot read
    back (NUL, lone surrogates, JSON nested deeper than FLOWBASE_JSON_MAX_DEPTH, NaN)."""
    try:
        validate_instance(instance)
        instance.full_clean()
    except ValidationError as exc:
        raise ValidationError(_prefixed(instance, exc, label)) from exc
    instance.save(update_fields=update_fields)
    return instance


def _prefixed(instance: models.Model, exc: ValidationError, label: str | None) -> list[str]:
    name = label or f"{instance._meta.verbose_name.capitalize()} {str(instance)!r}"
    if hasattr(exc, "error_dict"):
        return [
            f"{name}: {field}: {message}"
            for field, errors in exc.message_dict.items()
            for message in errors
        ]
    return [f"{name}: {message}" for message in exc.messages]


def require_choice(value: str, choices: type[models.TextChoices], *, what: str) -> str:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise ValidationError(f"{what}: {value!r} is not one of: {allowed}")
    return value


def database_error_message(exc: Exception) -> str:
    """The first line of a PostgreSQL error (trigger messages name the row and the rule)."""
    cause = getattr(exc, "__cause__", None) or exc
    diag = getattr(cause, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return primary or str(exc).splitlines()[0]
