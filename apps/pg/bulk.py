"""Bulk loading through COPY (psycopg 3's copy protocol), the fastest way rows go in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import NOT_PROVIDED

from . import rowscope


def copy_rows(
    cursor, statement: str, rows: Iterable[Sequence], *, using: str = DEFAULT_DB_ALIAS
) -> int:
    """`COPY … FROM STDIN` the rows through psycopg's own cursor (Django's wrapper has no copy);
    its errors (a lost connection, a bad value) arrive as Django's database errors. The count."""
    raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
    count = 0
    rowscope.ensure_applied(connections[using])  # COPY goes around the execute wrapper
    with connections[using].wrap_database_errors, raw.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def orm_defaults(model, *, given, connection) -> tuple[list[str], list[str], dict]:
    """What the ORM would write into the columns an `INSERT … SELECT` leaves out: each concrete
    column not in `given` (and not the key, generated, identity or with a database default) gets
    now() for auto_now/auto_now_add, else its Python default as a typed parameter named
    `default_<column>`. Columns added to the model later need no change in the callers.
    Returns (columns, value SQL, parameters)."""
    columns: list[str] = []
    values: list[str] = []
    params: dict = {}
    for f in model._meta.concrete_fields:
        if f.primary_key or f.column is None or f.column in given:
            continue
        if getattr(f, "generated", False) or getattr(f, "db_returning", False):
            continue
        if getattr(f, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
            continue
        columns.append(f.column)
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            values.append("now()")
            continue
        name = f"default_{f.column}"
        params[name] = f.get_db_prep_save(f.get_default(), connection)
        values.append(f"CAST(%({name})s AS {f.db_type(connection)})")
    return columns, values, params
