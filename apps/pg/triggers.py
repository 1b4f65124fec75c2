"""Trigger builders the models declare in `Meta.triggers` (pgtrigger definitions that
migrations ship). Generic: they take the table names from the model a trigger is declared on,
or from the app registry by model label, never from strings written by hand; this module
imports no domain app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pgtrigger
from django.apps import apps

# Refused writes surface as SQLSTATE 23514 (check_violation) -> django IntegrityError.
CHECK_VIOLATION = "check_violation"


class _Tables:
    """`{tables[app_label.Model]}` in a trigger body: that model's table, looked up when the
    trigger is compiled (the registry is ready by then)."""

    def __getitem__(self, label: str) -> str:
        return apps.get_model(label)._meta.db_table


class ModelFunc(pgtrigger.Func):
    """A trigger body with pgtrigger's `{meta}`, `{fields}`, `{columns}` of its own model and
    `{tables[app_label.Model]}` for the tables of other models (literal braces: `{{ }}`)."""

    def render(self, **kwargs: Any) -> str:
        return super().render(tables=_Tables(), **kwargs)


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


def _transition_check(
    transitions: Mapping[str, Iterable[str]], entity: str, label_column: str
) -> str:
    return f"""
            IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status
               AND NOT (OLD.status || '>' || NEW.status) = ANY ({transitions_literal(transitions)}) THEN
                RAISE EXCEPTION '{entity} % (%): illegal status transition % -> %',
                    NEW.id, NEW.{label_column}, OLD.status, NEW.status
                    USING ERRCODE = '{CHECK_VIOLATION}',
                          HINT = 'See the transition table in README.md';
            END IF;
            """


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
        func=_transition_check(transitions, entity, label_column)
        + extra_body
        + "\n            RETURN NEW;\n            ",
    )


def status_transitions_derived(
    *,
    name: str,
    transitions: Mapping[str, Iterable[str]],
    entity: str,
    label_column: str,
    derive: str,
    derive_when: str,
) -> list[pgtrigger.Trigger]:
    """`status_transitions` for a big table: the same check, and `derive` (columns that follow
    the status), but a row trigger runs only where it has work: on UPDATE when the status
    changes or `derive_when` (a condition on NEW: the derived columns are off), on INSERT
    when `derive_when`. A bulk insert of consistent rows calls no trigger function at all."""
    return [
        pgtrigger.Trigger(
            name=name,
            when=pgtrigger.Before,
            operation=pgtrigger.Update,
            condition=pgtrigger.Condition(
                f"(OLD.status IS DISTINCT FROM NEW.status OR ({derive_when}))"
            ),
            func=_transition_check(transitions, entity, label_column) + derive + "RETURN NEW;",
        ),
        pgtrigger.Trigger(
            name=f"{name}_insert",
            when=pgtrigger.Before,
            operation=pgtrigger.Insert,
            condition=pgtrigger.Condition(f"({derive_when})"),
            func=derive + "RETURN NEW;",
        ),
    ]


def after_statement(
    name: str, operation, referencing: pgtrigger.Referencing, body: str
) -> pgtrigger.Trigger:
    """AFTER … FOR EACH STATEMENT over the statement's transition tables, running `body` (a
    ModelFunc template)."""
    return pgtrigger.Trigger(
        name=name,
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=operation,
        referencing=referencing,
        func=ModelFunc(body + " RETURN NULL;"),
    )


class StatementTrigger(pgtrigger.Trigger):
    """An AFTER … FOR EACH STATEMENT trigger whose body is built from the model it is declared
    on: subclasses implement `body(model)`."""

    def __init__(self, *, name: str, operation, referencing) -> None:
        super().__init__(
            name=name,
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=operation,
            referencing=referencing,
        )

    def body(self, model) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_func(self, model) -> str:
        return self.body(model) + " RETURN NULL;"
