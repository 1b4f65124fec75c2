"""Builders for the database triggers the domain models declare in `Meta.triggers`.

The rules live in PostgreSQL so they hold for every writer (admin, services, Celery, psql);
these functions only generate the pgtrigger definitions, which migrations then ship.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pgtrigger

# Illegal transitions surface as SQLSTATE 23514 (check_violation) -> django IntegrityError.
CHECK_VIOLATION = "check_violation"


def set_updated_at() -> pgtrigger.Trigger:
    """`updated_at` is the database's clock, whoever writes the row."""
    return pgtrigger.Trigger(
        name="set_updated_at",
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        func="NEW.updated_at := now(); RETURN NEW;",
    )


def transitions_literal(transitions: Mapping[str, Iterable[str]]) -> str:
    pairs = sorted(f"{src}>{dst}" for src, targets in transitions.items() for dst in targets)
    return "'{" + ",".join(pairs) + "}'::text[]"


def status_transitions(
    *,
    name: str,
    transitions: Mapping[str, Iterable[str]],
    entity: str,
    label_column: str,
    extra_body: str = "",
) -> pgtrigger.Trigger:
    """Refuse status changes not listed in `transitions`; `extra_body` runs after the check."""
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update,
        func=(
            f"""
            IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status
               AND NOT (OLD.status || '>' || NEW.status) = ANY ({transitions_literal(transitions)}) THEN
                RAISE EXCEPTION '{entity} % (%): illegal status transition % -> %',
                    NEW.id, NEW.{label_column}, OLD.status, NEW.status
                    USING ERRCODE = '{CHECK_VIOLATION}',
                          HINT = 'See the transition table in README.md';
            END IF;
            {extra_body}
            RETURN NEW;
            """
        ),
    )


AUDIT_IGNORED_KEYS = "'{updated_at,search_vector}'::text[]"
_ACTOR = "NULLIF(current_setting('flowbase.user_id', true), '')::bigint"
_REQUEST = "COALESCE(current_setting('flowbase.request_id', true), '')"
_AUDIT_INSERT = (
    "INSERT INTO audit_auditevent (table_name, row_pk, action, changes, actor_id, request_id, txid)"
)


def _audit_values(alias: str, key: str) -> str:
    """`{"field": {"new": value}}` (or "old") for every column of one transition-table row."""
    return (
        f"(SELECT COALESCE(jsonb_object_agg(e.key, jsonb_build_object('{key}', e.value)), '{{}}')"
        f" FROM jsonb_each(to_jsonb({alias}) - {AUDIT_IGNORED_KEYS}) e)"
    )


def audit_triggers(db_table: str) -> list[pgtrigger.Trigger]:
    """Statement-level audit capture into AuditEvent: one INSERT … SELECT per statement.

    Statement level with transition tables keeps bulk writes cheap (one audit statement per
    write statement, not one trigger call per row).
    """

    def trigger(name: str, operation, referencing, body: str) -> pgtrigger.Trigger:
        return pgtrigger.Trigger(
            name=name,
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=operation,
            referencing=referencing,
            func=body + " RETURN NULL;",
        )

    table = f"'{db_table}'"
    common = f"{_ACTOR}, {_REQUEST}, txid_current()"
    return [
        trigger(
            "audit_insert",
            pgtrigger.Insert,
            pgtrigger.Referencing(new="new_rows"),
            f"{_AUDIT_INSERT} SELECT {table}, n.id::text, 'INSERT', {_audit_values('n', 'new')},"
            f" {common} FROM new_rows n;",
        ),
        trigger(
            "audit_update",
            pgtrigger.Update,
            pgtrigger.Referencing(old="old_rows", new="new_rows"),
            f"""{_AUDIT_INSERT}
            SELECT {table}, n.id::text, 'UPDATE', d.changes, {common}
            FROM new_rows n
            JOIN old_rows o ON o.id = n.id
            CROSS JOIN LATERAL (
                SELECT jsonb_object_agg(nv.key, jsonb_build_object('old', ov.value, 'new', nv.value))
                       AS changes
                FROM jsonb_each(to_jsonb(n) - {AUDIT_IGNORED_KEYS}) nv
                JOIN jsonb_each(to_jsonb(o)) ov ON ov.key = nv.key
                WHERE nv.value IS DISTINCT FROM ov.value
            ) d
            WHERE d.changes IS NOT NULL;""",
        ),
        trigger(
            "audit_delete",
            pgtrigger.Delete,
            pgtrigger.Referencing(old="old_rows"),
            f"{_AUDIT_INSERT} SELECT {table}, o.id::text, 'DELETE', {_audit_values('o', 'old')},"
            f" {common} FROM old_rows o;",
        ),
    ]
