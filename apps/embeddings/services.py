"""Writes of the embedding metadata. Network-free: a vector-store sync calls these after it
wrote, read or deleted vectors in the store."""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.core.inputs import required_text

from .models import Embedding, StaleReason
from .selectors import source_content_hash
from .sources import SOURCES, source_for

SHA256 = re.compile(r"^[0-9a-f]{64}$")
RECHECK_BATCH = 5000


def _name(value, what: str, max_length: int) -> str:
    return required_text(value, what=what, max_length=max_length)


@transaction.atomic
def embedding_record(
    *,
    entity_type: str,
    entity_id: int,
    provider: str,
    model_name: str,
    namespace: str,
    dimension: int,
    external_id: str,
    content_hash: str | None = None,
    chunk: int = 0,
) -> Embedding:
    """Upsert the metadata of a vector just written to the store (idempotent per entity, chunk,
    provider, namespace and model). `content_hash`: the hash of the text that was embedded; by
    default the source's current one. A hash other than the source's current one is recorded as
    stale at once (the text changed while it was being embedded)."""
    try:
        source_for(entity_type)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    current = source_content_hash(entity_type=entity_type, entity_id=int(entity_id))
    if current is None:
        raise ValidationError(f"{entity_type} {entity_id} does not exist")
    content_hash = current if content_hash is None else str(content_hash).lower()
    if not SHA256.match(content_hash):
        raise ValidationError("content_hash must be a sha256 hex digest (64 characters)")
    if not isinstance(dimension, int) or not 1 <= dimension <= 65536:
        raise ValidationError("dimension must be an integer between 1 and 65536")
    if not isinstance(chunk, int) or not 0 <= chunk <= 32767:
        raise ValidationError("chunk must be an integer between 0 and 32767")
    stale = content_hash != current
    row = Embedding(
        entity_type=entity_type,
        entity_id=int(entity_id),
        chunk=chunk,
        provider=_name(provider, "provider", 50),
        model_name=_name(model_name, "model_name", 100),
        namespace=_name(namespace, "namespace", 100),
        dimension=dimension,
        external_id=_name(external_id, "external_id", 255),
        content_hash=content_hash,
        embedded_at=timezone.now(),
        stale_since=timezone.now() if stale else None,
        stale_reason=StaleReason.CONTENT_CHANGED if stale else StaleReason.FRESH,
    )
    Embedding.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["entity_type", "entity_id", "provider", "namespace", "model_name", "chunk"],
        update_fields=[
            "dimension",
            "external_id",
            "content_hash",
            "embedded_at",
            "stale_since",
            "stale_reason",
        ],
    )
    return Embedding.objects.get(
        entity_type=entity_type,
        entity_id=int(entity_id),
        provider=row.provider,
        namespace=row.namespace,
        model_name=row.model_name,
        chunk=chunk,
    )


def embedding_usage_record(
    *, provider: str, namespace: str, external_ids: list[str], at: datetime | None = None
) -> int:
    """Count one use (a search hit) of each vector; one statement for a whole result list."""
    at = at or timezone.now()
    ids = sorted({_name(x, "external_id", 255) for x in external_ids})
    if not ids:
        return 0
    return Embedding.objects.filter(
        provider=provider, namespace=namespace, external_id__in=ids
    ).update(
        usage_count=F("usage_count") + 1,
        last_used_at=Greatest(Coalesce(F("last_used_at"), Value(at)), Value(at)),
    )


def embedding_delete(*, provider: str, namespace: str, external_ids: list[str]) -> int:
    """Forget vectors the sync has deleted from the store."""
    return Embedding.objects.filter(
        provider=provider, namespace=namespace, external_id__in=list(external_ids)
    ).delete()[0]


def _recheck_sql(source) -> str:
    table = connection.ops.quote_name(source.model._meta.db_table)
    return f"""
WITH batch AS (
    SELECT e.id, e.content_hash, e.stale_reason, s.id IS NULL AS missing, {source.hash_sql("s")} AS h
    FROM embeddings_embedding e LEFT JOIN {table} s ON s.id = e.entity_id
    WHERE e.entity_type = %(type)s AND e.id > %(after)s
    ORDER BY e.id LIMIT %(limit)s
), wanted AS (
    SELECT id, CASE WHEN missing THEN 'source_deleted'
                    WHEN content_hash <> h THEN 'content_changed' ELSE '' END AS reason,
           stale_reason
    FROM batch
), upd AS (
    UPDATE embeddings_embedding e
       SET stale_reason = w.reason,
           stale_since = CASE WHEN w.reason = '' THEN NULL ELSE coalesce(e.stale_since, now()) END
      FROM wanted w
     WHERE e.id = w.id AND w.reason <> w.stale_reason AND %(apply)s
    RETURNING e.id
)
SELECT (SELECT max(id) FROM batch),
       (SELECT count(*) FROM wanted WHERE reason = 'content_changed' AND stale_reason <> reason),
       (SELECT count(*) FROM wanted WHERE reason = 'source_deleted' AND stale_reason <> reason),
       (SELECT count(*) FROM wanted WHERE reason = '' AND stale_reason <> ''),
       (SELECT count(*) FROM upd)
"""


def embeddings_recheck(*, apply: bool = False, entity_type: str | None = None) -> dict:
    """The reconciler: compare every embedding's hash with its source's current content (in
    batches by id) and mark what differs stale, what lost its source orphaned, what matches
    again fresh. Catches writes the triggers cannot see (trigger-ignoring bulk jobs, a source
    table restored from a dump). Dry run unless `apply`."""
    totals = {"newly_stale": 0, "newly_orphaned": 0, "fresh_again": 0, "updated": 0}
    types = [entity_type] if entity_type else list(SOURCES)
    for kind in types:
        source = source_for(kind)
        sql = _recheck_sql(source)
        after = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    sql, {"type": kind, "after": after, "limit": RECHECK_BATCH, "apply": apply}
                )
                last, stale, orphaned, fresh, updated = cursor.fetchone()
            if last is None:
                break
            after = last
            totals["newly_stale"] += stale
            totals["newly_orphaned"] += orphaned
            totals["fresh_again"] += fresh
            totals["updated"] += updated
    totals["applied"] = apply
    return totals
