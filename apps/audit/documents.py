"""The `changes` document of an audit row, as stored and as read.

UPDATE rows store `{"field": {"old": …, "new": …}}` for the columns that changed. INSERT and
DELETE rows store the whole row once, `{"new": {"field": value, …}}` (or `"old"`): building
that costs the capture trigger half of the per-column form, which bulk inserts pay per row.
Readers get one form for all three: `expand_row_image` turns a stored image into
`{"field": {"new": value}}`, the form older rows were written in (left as they are).
"""

from __future__ import annotations

from typing import Any

from apps.core.fields import JSONField

IMAGE_KEYS = ("new", "old")


def expand_row_image(document: Any) -> Any:
    """`{"new": {"f": v}}` -> `{"f": {"new": v}}`; any other document unchanged."""
    if isinstance(document, dict) and len(document) == 1:
        ((key, image),) = document.items()
        if key in IMAGE_KEYS and isinstance(image, dict):
            return {field: {key: value} for field, value in image.items()}
    return document


class ChangesField(JSONField):
    """`changes` as readers expect it: stored row images come back expanded."""

    def from_db_value(self, value, expression, connection):
        return expand_row_image(super().from_db_value(value, expression, connection))
