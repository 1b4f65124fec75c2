"""Bulk loading through COPY (psycopg 3's copy protocol), the fastest way rows go in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import DEFAULT_DB_ALIAS, connections


def copy_rows(
    cursor, statement: str, rows: Iterable[Sequence], *, using: str = DEFAULT_DB_ALIAS
) -> int:
    """`COPY … FROM STDIN` the rows through psycopg's own cursor (Django's wrapper has no copy);
    its errors (a lost connection, a bad value) arrive as Django's database errors. The count."""
    raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
    count = 0
    with connections[using].wrap_database_errors, raw.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
