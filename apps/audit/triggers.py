"""Audit capture: statement-level triggers that copy every row change of a model into the audit
log (`AuditEvent`), with the actor and request id the middleware put in the session.

Declared as `*audit_triggers()` in a model's `Meta.triggers`; the audited table and the audit
table are read from the models' `_meta` when the triggers are compiled. Statement level with
transition tables keeps bulk writes cheap (one audit statement per write statement, not one
trigger call per row).
"""

from __future__ import annotations

import pgtrigger
from django.apps import apps

from apps.pg.triggers import StatementTrigger

AUDIT_IGNORED_KEYS = "'{updated_at,search_vector}'::text[]"
_ACTOR = "NULLIF(current_setting('flowbase.user_id', true), '')::bigint"
_REQUEST = "COALESCE(current_setting('flowbase.request_id', true), '')"
_COMMON = f"{_ACTOR}, {_REQUEST}, txid_current()"


def _audit_values(alias: str, key: str) -> str:
    """`{"field": {"new": value}}` (or "old") for every column of one transition-table row."""
    return (
        f"(SELECT COALESCE(jsonb_object_agg(e.key, jsonb_build_object('{key}', e.value)), '{{}}')"
        f" FROM jsonb_each(to_jsonb({alias}) - {AUDIT_IGNORED_KEYS}) e)"
    )


class _AuditTrigger(StatementTrigger):
    def insert_into(self) -> str:
        table = apps.get_model("audit", "AuditEvent")._meta.db_table
        return (
            f"INSERT INTO {table} (table_name, row_pk, action, changes, actor_id, request_id, txid)"
        )


class _AuditInsert(_AuditTrigger):
    def body(self, model) -> str:
        return (
            f"{self.insert_into()} SELECT '{model._meta.db_table}', n.id::text, 'INSERT', "
            f"{_audit_values('n', 'new')}, {_COMMON} FROM new_rows n;"
        )


class _AuditUpdate(_AuditTrigger):
    def body(self, model) -> str:
        return f"""{self.insert_into()}
            SELECT '{model._meta.db_table}', n.id::text, 'UPDATE', d.changes, {_COMMON}
            FROM new_rows n
            JOIN old_rows o ON o.id = n.id
            CROSS JOIN LATERAL (
                SELECT jsonb_object_agg(nv.key, jsonb_build_object('old', ov.value, 'new', nv.value))
                       AS changes
                FROM jsonb_each(to_jsonb(n) - {AUDIT_IGNORED_KEYS}) nv
                JOIN jsonb_each(to_jsonb(o)) ov ON ov.key = nv.key
                WHERE nv.value IS DISTINCT FROM ov.value
            ) d
            WHERE d.changes IS NOT NULL;"""


class _AuditDelete(_AuditTrigger):
    def body(self, model) -> str:
        return (
            f"{self.insert_into()} SELECT '{model._meta.db_table}', o.id::text, 'DELETE', "
            f"{_audit_values('o', 'old')}, {_COMMON} FROM old_rows o;"
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
