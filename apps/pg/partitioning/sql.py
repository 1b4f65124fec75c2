"""The partition DDL the ORM cannot say. Identifiers are quoted with psycopg.sql; values are
parameters."""

from __future__ import annotations

from ..sql import quote


def detach_into_schema(parent: str, schema: str, partition: str, target: str) -> list[str]:
    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote(target)}",
        f"ALTER TABLE {quote(parent)} DETACH PARTITION {quote(schema, partition)}",
        f"ALTER TABLE {quote(schema, partition)} SET SCHEMA {quote(target)}",
    ]


def stash_default_rows(schema: str, partition: str, key: str, stash: str) -> str:
    """Move rows with key in [%s, %s) out of a default partition into a temporary table."""
    return (
        f"CREATE TEMPORARY TABLE {quote(stash)} ON COMMIT DROP AS "
        f"WITH moved AS (DELETE FROM {quote(schema, partition)} "
        f"WHERE {quote(key)} >= %s AND {quote(key)} < %s RETURNING *) SELECT * FROM moved"
    )


def restore_stashed_rows(parent: str, stash: str) -> str:
    """Re-insert stashed rows through the parent (same column order: partitions share it)."""
    return f"INSERT INTO {quote(parent)} SELECT * FROM {quote(stash)}"
