"""Where a person can appear, derived from the models (plus the declared JSON keys).

* user references: every FK / one-to-one to the user model (nullable ones are cut, the rest keep
  pointing at the pseudonymised account, auto-created many-to-many rows are deleted);
* identifier columns: CharField/EmailField named like a person (`assignee`, `author`, `*_by`, …)
  or declared in PRIVACY_IDENTIFIER_FIELDS (labelled "identifier" in the report);
* personal JSON keys: PRIVACY_PERSONAL_JSON_KEYS; under them the person's account id is cut too.

Free text (every other text, varchar, JSON and array column) is found from the catalog by the
erasure itself, so a column added tomorrow is searched without being listed anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.db import models

from . import conf


@dataclass(frozen=True)
class UserReference:
    table: str
    column: str
    nullable: bool
    link_table: bool  # an auto-created many-to-many row (groups, permissions)

    @property
    def action(self) -> str:
        if self.link_table:
            return "delete"
        return "set null" if self.nullable else "keep"


@dataclass
class Registry:
    user_references: list[UserReference] = field(default_factory=list)
    identifier_columns: dict[str, set[str]] = field(default_factory=dict)
    json_keys: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    model_tables: set[str] = field(default_factory=set)

    def references_of(self, table: str) -> list[UserReference]:
        return [r for r in self.user_references if r.table == table]

    def id_keys(self, table: str, column: str) -> list[str]:
        return self.json_keys.get(table, {}).get(column, [])

    def audit_id_keys(self) -> list[str]:
        """Keys under which an audit payload may hold the account id: audit `changes` are keyed
        by column name, and mirror the JSON documents of the rows."""
        keys = {r.column for r in self.user_references if not r.link_table}
        for columns in self.json_keys.values():
            for names in columns.values():
                keys.update(names)
        return sorted(keys)


def _is_identifier_name(name: str) -> bool:
    return name in conf.IDENTIFIER_FIELD_NAMES or name.endswith("_by")


def build_registry() -> Registry:
    user_model = get_user_model()
    registry = Registry()
    declared = set(conf.identifier_fields())
    for model in django_apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy:
            continue
        registry.model_tables.add(meta.db_table)
        for f in meta.concrete_fields:
            if f.is_relation and f.related_model is user_model and (f.many_to_one or f.one_to_one):
                registry.user_references.append(
                    UserReference(meta.db_table, f.column, f.null, bool(meta.auto_created))
                )
            elif (
                isinstance(f, models.CharField)
                and not f.choices
                and (_is_identifier_name(f.name) or f"{meta.label}.{f.name}" in declared)
            ):
                registry.identifier_columns.setdefault(meta.db_table, set()).add(f.column)
    for label, columns in conf.personal_json_keys().items():
        model = django_apps.get_model(label)
        for field_name, keys in columns.items():
            column = model._meta.get_field(field_name).column
            registry.json_keys.setdefault(model._meta.db_table, {})[column] = list(keys)
    return registry
