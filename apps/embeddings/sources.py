"""What an embedding is an embedding of: the registry of source entities and the fields whose
text is embedded, and the one definition of a source's content hash (SQL, so the database's
triggers, the reconciler and the services compute the very same value).

Hash: sha256 (hex) of the embedded fields' text, in the order listed, joined by U+001F (unit
separator); NULL counts as empty, JSON documents as PostgreSQL's canonical jsonb text.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps as django_apps
from django.db import models


class EntityType(models.TextChoices):
    ARTICLE = "knowledge.article", "Knowledge article"
    TASK = "tasks.task", "Task"
    TEMPLATE = "blueprints.template", "Template"


@dataclass(frozen=True)
class Source:
    entity_type: str
    model_label: str
    fields: tuple[str, ...]

    @property
    def model(self) -> type[models.Model]:
        return django_apps.get_model(self.model_label)

    def columns(self, model: type[models.Model] | None = None) -> list[str]:
        meta = (model or self.model)._meta
        return [meta.get_field(name).column for name in self.fields]

    def hash_sql(self, alias: str, model: type[models.Model] | None = None) -> str:
        """The content hash of the row `alias` (a table alias, NEW, …) as an SQL expression;
        `model`: the source model class, while the app registry is still loading."""
        parts = ", ".join(f"coalesce({alias}.{column}::text, '')" for column in self.columns(model))
        return f"encode(sha256(convert_to(concat_ws(chr(31), {parts}), 'UTF8')), 'hex')"


SOURCES: dict[str, Source] = {
    s.entity_type: s
    for s in (
        Source(EntityType.ARTICLE, "knowledge.Article", ("title", "content")),
        Source(EntityType.TASK, "tasks.Task", ("title", "description", "details", "test_strategy")),
        Source(EntityType.TEMPLATE, "blueprints.Template", ("name", "description", "content")),
    )
}


def source_for(entity_type: str) -> Source:
    try:
        return SOURCES[entity_type]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise ValueError(f"unknown entity type {entity_type!r} (known: {known})") from None
