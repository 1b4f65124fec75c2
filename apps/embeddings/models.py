"""Metadata of embeddings kept in an external vector store (the vectors themselves live there).

The entity is named by value, `(entity_type, entity_id)`, with `entity_type` one of a declared
registry (sources.py) rather than a ContentType or one FK per source:
* the label is the same in every database, so the staleness triggers and the reconciler can
  name it in SQL (ContentType ids differ per database);
* no FK: the metadata must outlive its source (a deleted or archived task still has a vector in
  the store until the sync removes it), and writes to hot task rows take no FK locks;
* a CHECK keeps the label inside the registry; a new source type is one registry entry.
"""

from django.db import models
from django.db.models.functions import Now

from apps.blueprints.models import Template
from apps.knowledge.models import Article
from apps.tasks.models import Task

from .sources import SOURCES, EntityType
from .triggers import source_triggers


class StaleReason(models.TextChoices):
    FRESH = "", "Fresh"
    CONTENT_CHANGED = "content_changed", "Content changed"
    SOURCE_DELETED = "source_deleted", "Source deleted"


class Embedding(models.Model):
    entity_type = models.CharField(max_length=40, choices=EntityType)
    entity_id = models.BigIntegerField()
    # One entity may be split into several vectors (long articles): 0, 1, 2, …
    chunk = models.PositiveSmallIntegerField(default=0)
    provider = models.CharField(max_length=50, help_text="e.g. openai, cohere, local")
    model_name = models.CharField(max_length=100, help_text="the embedding model")
    namespace = models.CharField(max_length=100, help_text="index / collection in the store")
    dimension = models.PositiveIntegerField()
    external_id = models.CharField(max_length=255, help_text="the vector's id in the store")
    # sha256 of the source's embedded text when it was embedded (sources.py defines it).
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_default=Now())
    embedded_at = models.DateTimeField(db_default=Now(), help_text="vector last (re)written")
    last_used_at = models.DateTimeField(null=True, blank=True)
    usage_count = models.BigIntegerField(default=0)
    stale_since = models.DateTimeField(null=True, blank=True)
    stale_reason = models.CharField(
        max_length=20, choices=StaleReason, blank=True, default=StaleReason.FRESH
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity_type", "entity_id", "provider", "namespace", "model_name", "chunk"],
                name="embedding_entity_unique",
            ),
            models.UniqueConstraint(
                fields=["provider", "namespace", "external_id"], name="embedding_external_id_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(entity_type__in=EntityType.values),
                name="embedding_entity_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(stale_reason__in=StaleReason.values),
                name="embedding_stale_reason_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(stale_since__isnull=True, stale_reason="")
                | (models.Q(stale_since__isnull=False) & ~models.Q(stale_reason="")),
                name="embedding_stale_pair",
            ),
            models.CheckConstraint(
                condition=models.Q(dimension__gte=1, dimension__lte=65536),
                name="embedding_dimension_range",
            ),
            models.CheckConstraint(
                condition=models.Q(content_hash__regex=r"^[0-9a-f]{64}$"),
                name="embedding_content_hash_sha256",
            ),
            models.CheckConstraint(
                condition=models.Q(usage_count__gte=0), name="embedding_usage_non_negative"
            ),
        ]
        indexes = [
            # Per (provider, namespace, model): the groups, a capped count, the last use.
            models.Index(
                fields=["provider", "namespace", "model_name", "last_used_at"],
                name="embedding_group_used_idx",
            ),
            # The sync's work list: stale vectors of one namespace, oldest first.
            models.Index(
                fields=["provider", "namespace", "model_name", "stale_since"],
                name="embedding_stale_idx",
                condition=models.Q(stale_since__isnull=False),
            ),
            # A vector id as the store reports it (admin search, callbacks without a namespace).
            models.Index(fields=["external_id"], name="embedding_external_id_idx"),
            # Vectors whose source is gone (deletes in the store), and the restore trigger.
            models.Index(
                fields=["entity_type", "entity_id"],
                name="embedding_orphan_idx",
                condition=models.Q(stale_reason="source_deleted"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type}#{self.entity_id}[{self.chunk}] {self.provider}/{self.namespace}"


# Proxies of the sources: they carry the staleness triggers (triggers.py), so the source apps'
# models and migrations are not touched.
class ArticleEmbeddingSource(Article):
    class Meta:
        proxy = True
        triggers = source_triggers(SOURCES[EntityType.ARTICLE], Article)


class TaskEmbeddingSource(Task):
    class Meta:
        proxy = True
        triggers = source_triggers(SOURCES[EntityType.TASK], Task)


class TemplateEmbeddingSource(Template):
    class Meta:
        proxy = True
        triggers = source_triggers(SOURCES[EntityType.TEMPLATE], Template)
