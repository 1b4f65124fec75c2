"""Audit capture: statement-level triggers that copy every row change of a model into the audit
log (`AuditEvent`), with the actor and request id the middleware put in the session.

Declared as `*audit_triggers()` in a model's `Meta.triggers`; the audited table, its columns and
the audit table are read from the models' `_meta` when the triggers are compiled. Statement level
with transition tables keeps bulk writes cheap (one audit statement per write statement, not one
trigger call per row). The `changes` document is built column by column from the model's fields
(no `to_jsonb(row)` + `jsonb_each` + aggregate per row): a diff per changed column for UPDATE, one
flat row image for INSERT and DELETE (see `documents.py`). The actor, request id and txid are
read once per statement. A new column changes the compiled SQL, so `makemigrations` ships it.
"""

from __future__ import annotations

import pgtrigger
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from apps.pg.triggers import StatementTrigger

from .documents import IMAGE_KEYS

# Columns the log leaves out: the database's clock and derived search data.
AUDIT_IGNORED_COLUMNS = frozenset({"updated_at", "search_vector"})
# jsonb_build_object takes at most 100 arguments: 50 key/value pairs.
_PAIRS_PER_CALL = 50
_CONTEXT = (
    "WITH ctx AS MATERIALIZED (SELECT"
    " NULLIF(current_setting('flowbase.user_id', true), '')::bigint AS actor_id,"
    " COALESCE(current_setting('flowbase.request_id', true), '') AS request_id,"
    " txid_current() AS txid)"
)
_COMMON = "ctx.actor_id, ctx.request_id, ctx.txid"


def audited_columns(model) -> list[str]:
    columns = [
        f.column for f in model._meta.concrete_fields if f.column not in AUDIT_IGNORED_COLUMNS
    ]
    if reserved := set(columns) & set(IMAGE_KEYS):
        # A column named like an image key would make a one-column diff read as a row image.
        raise ImproperlyConfigured(f"{model._meta.label}: audited column named {reserved}")
    return columns


def _ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _row_values(model, alias: str, key: str) -> str:
    """The row image `{"new": {"field": value, …}}` (or "old"): one flat object per row, which
    costs half of the per-column `{"field": {"new": value}}` form (each jsonb_build_object call
    resolves its arguments' types again); `ChangesField` reads it back in that form."""
    pairs = [f"'{c}', {alias}.{_ident(c)}" for c in audited_columns(model)]
    calls = [
        "jsonb_build_object(" + ", ".join(pairs[i : i + _PAIRS_PER_CALL]) + ")"
        for i in range(0, len(pairs), _PAIRS_PER_CALL)
    ]
    image = " || ".join(calls) or "'{}'::jsonb"
    return f"jsonb_build_object('{key}', {image})"


def _row_diff(model) -> str:
    """`{"field": {"old": …, "new": …}}` for the columns whose value changed (`{}` if none)."""
    parts = [
        f"CASE WHEN n.{_ident(c)} IS DISTINCT FROM o.{_ident(c)} THEN jsonb_build_object('{c}',"
        f" jsonb_build_object('old', o.{_ident(c)}, 'new', n.{_ident(c)})) ELSE '{{}}'::jsonb END"
        for c in audited_columns(model)
    ]
    return " || ".join(parts) or "'{}'::jsonb"


class _AuditTrigger(StatementTrigger):
    def insert_into(self) -> str:
        table = apps.get_model("audit", "AuditEvent")._meta.db_table
        return (
            f"INSERT INTO {table} (table_name, row_pk, action, changes, actor_id, request_id, txid)"
        )


class _AuditInsert(_AuditTrigger):
    def body(self, model) -> str:
        pk = _ident(model._meta.pk.column)
        return (
            f"{self.insert_into()} {_CONTEXT} SELECT '{model._meta.db_table}', n.{pk}::text,"
            f" 'INSERT', {_row_values(model, 'n', 'new')}, {_COMMON} FROM ctx, new_rows n;"
        )


class _AuditUpdate(_AuditTrigger):
    def body(self, model) -> str:
        pk = _ident(model._meta.pk.column)
        return f"""{self.insert_into()} {_CONTEXT}
            SELECT '{model._meta.db_table}', n.{pk}::text, 'UPDATE', d.changes, {_COMMON}
            FROM ctx, new_rows n
            JOIN old_rows o ON o.{pk} = n.{pk}
            CROSS JOIN LATERAL (SELECT {_row_diff(model)} AS changes) d
            WHERE d.changes <> '{{}}'::jsonb;"""


class _AuditDelete(_AuditTrigger):
    def body(self, model) -> str:
        pk = _ident(model._meta.pk.column)
        return (
            f"{self.insert_into()} {_CONTEXT} SELECT '{model._meta.db_table}', o.{pk}::text,"
            f" 'DELETE', {_row_values(model, 'o', 'old')}, {_COMMON} FROM ctx, old_rows o;"
        )


def audit_triggers() -> list[pgtrigger.Trigger]:
    """The three capture triggers (insert, update, delete) for the model that declares them."""
    return [
        _AuditInsert(
            name="audit_insert",
            operation=pgtrigger.Insert,
            referencing=pgtrigger.Referencing(new="new_rows"),
        ),
        _AuditUpdate(
            name="audit_update",
            operation=pgtrigger.Update,
            referencing=pgtrigger.Referencing(old="old_rows", new="new_rows"),
        ),
        _AuditDelete(
            name="audit_delete",
            operation=pgtrigger.Delete,
            referencing=pgtrigger.Referencing(old="old_rows"),
        ),
    ]
