"""Reads of the embedding metadata: the source's current hash, the usage analytics, stale work.

Every query here is bounded: groups are enumerated by a skip scan of their index, counts per
group stop at COUNT_CAP (like the admin's paginator), the last use is one index probe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from .models import Embedding, StaleReason
from .sources import source_for

COUNT_CAP = 10_000
MAX_GROUPS = 50

# A loose index scan over (provider, namespace, model_name): one probe per distinct group.
GROUPS_SQL = """
WITH RECURSIVE g AS (
    (SELECT provider, namespace, model_name FROM embeddings_embedding
      ORDER BY provider, namespace, model_name LIMIT 1)
    UNION ALL
    SELECT n.provider, n.namespace, n.model_name FROM g CROSS JOIN LATERAL (
        SELECT e.provider, e.namespace, e.model_name FROM embeddings_embedding e
         WHERE (e.provider, e.namespace, e.model_name) > (g.provider, g.namespace, g.model_name)
         ORDER BY e.provider, e.namespace, e.model_name LIMIT 1) n
)
SELECT g.provider, g.namespace, g.model_name,
       (SELECT count(*) FROM (SELECT 1 FROM embeddings_embedding e
         WHERE (e.provider, e.namespace, e.model_name) = (g.provider, g.namespace, g.model_name)
         LIMIT %(cap)s + 1) x),
       (SELECT count(*) FROM (SELECT 1 FROM embeddings_embedding e
         WHERE (e.provider, e.namespace, e.model_name) = (g.provider, g.namespace, g.model_name)
           AND e.stale_since IS NOT NULL LIMIT %(cap)s + 1) x),
       (SELECT count(*) FROM (SELECT 1 FROM embeddings_embedding e
         WHERE (e.provider, e.namespace, e.model_name) = (g.provider, g.namespace, g.model_name)
           AND e.stale_since IS NOT NULL AND e.stale_reason = 'source_deleted'
         LIMIT %(cap)s + 1) x),
       (SELECT max(e.last_used_at) FROM embeddings_embedding e
         WHERE (e.provider, e.namespace, e.model_name) = (g.provider, g.namespace, g.model_name))
FROM g
LIMIT %(groups)s
"""


@dataclass(frozen=True)
class GroupUsage:
    provider: str
    namespace: str
    model_name: str
    count: int
    stale: int
    orphaned: int
    last_used_at: datetime | None
    capped: bool  # a count stopped at COUNT_CAP: "at least"

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data["last_used_at"] = self.last_used_at.isoformat() if self.last_used_at else None
        return data


def embedding_usage_summary(*, cap: int = COUNT_CAP, groups: int = MAX_GROUPS) -> list[GroupUsage]:
    """Per (provider, namespace, model): embeddings, stale, orphaned (capped), last use."""
    with connection.cursor() as cursor:
        cursor.execute(GROUPS_SQL, {"cap": cap, "groups": groups})
        rows = cursor.fetchall()
    return [
        GroupUsage(
            provider,
            namespace,
            model_name,
            min(count, cap),
            min(stale, cap),
            min(orphaned, cap),
            last_used,
            max(count, stale, orphaned) > cap,
        )
        for provider, namespace, model_name, count, stale, orphaned, last_used in rows
    ]


def stale_embeddings(
    *, provider: str | None = None, namespace: str | None = None, model_name: str | None = None
) -> QuerySet[Embedding]:
    """Stale and orphaned embeddings, oldest staleness first (the sync's work list)."""
    qs = Embedding.objects.filter(stale_since__isnull=False)
    for name, value in (
        ("provider", provider),
        ("namespace", namespace),
        ("model_name", model_name),
    ):
        if value:
            qs = qs.filter(**{name: value})
    return qs.order_by("provider", "namespace", "model_name", "stale_since", "id")


def orphaned_embeddings() -> QuerySet[Embedding]:
    return Embedding.objects.filter(stale_reason=StaleReason.SOURCE_DELETED)


def source_content_hash(*, entity_type: str, entity_id: int) -> str | None:
    """The source row's content hash now, or None when it does not exist."""
    source = source_for(entity_type)
    table = connection.ops.quote_name(source.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {source.hash_sql('s')} FROM {table} s WHERE s.id = %s", [entity_id])
        row = cursor.fetchone()
    return row[0] if row else None
