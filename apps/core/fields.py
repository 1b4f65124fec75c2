"""Flowbase's JSONField: Django's, plus the content checks of apps.core.validation.

- Forms (admin and any ModelForm) parse with `parse_json`: deep, NUL, lone-surrogate, NaN and
  oversized-integer input is a form error naming the problem, never a RecursionError.
- Model validation (`full_clean`, hence the services' `validated_save`) runs the same checks
  (before Django's own, which re-encodes the value and would recurse on deep input).
- Rows already stored deeper than the limit are read as `TooDeepJSON` (their exact text), so
  the pages showing them render, and saving the row back writes the same document.

`deconstruct()` reports Django's own path: migrations and their state are unchanged.
"""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.fields import InvalidJSONInput, JSONString

from .validation import (
    TooDeepJSON,
    check_json,
    json_depth,
    json_max_depth,
    parse_json,
)


class JSONFormField(forms.JSONField):
    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return None
        if isinstance(value, list | dict | int | float | JSONString):
            return value
        converted = parse_json(value, field=None, decoder=self.decoder)
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return parse_json(data, field=None, decoder=self.decoder)
        except ValidationError:
            return InvalidJSONInput(data)

    def prepare_value(self, value):
        if isinstance(value, TooDeepJSON):
            return str(value)  # the stored text, shown as is
        return super().prepare_value(value)


class JSONField(models.JSONField):
    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs

    def from_db_value(self, value, expression, connection):
        if not isinstance(value, str):
            return super().from_db_value(value, expression, connection)
        limit = json_max_depth()
        # Fewer brackets than the limit cannot nest deeper: skip the walk for ordinary rows.
        if value.count("[") + value.count("{") <= limit:
            return super().from_db_value(value, expression, connection)
        try:
            decoded = json.loads(value, cls=self.decoder)
        except RecursionError:
            return TooDeepJSON(value)
        except json.JSONDecodeError:
            return value
        if json_depth(decoded, stop_above=limit) > limit:
            return TooDeepJSON(value)
        return decoded

    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, TooDeepJSON):
            from django.db.backends.postgresql.psycopg_any import Jsonb

            return Jsonb(value, dumps=str)  # the text as it was read
        return super().get_db_prep_value(value, connection, prepared)

    def validate(self, value, model_instance):
        problems = check_json(value, field=None)
        if problems:
            raise ValidationError(problems, code="json_content")
        super().validate(value, model_instance)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": JSONFormField, **kwargs})
