"""The staleness triggers declared on proxies of the source models (so the source apps and
their migrations stay untouched; pgtrigger installs them on the sources' tables).

* content change (row level, only when an embedded field changed): embeddings of the row whose
  content hash no longer matches become stale ("content_changed"); ones that match again (an
  edit undone) become fresh;
* delete (statement level): the row's embeddings become "source_deleted" (the vector store
  still holds them: the sync deletes them there, then their metadata);
* insert (statement level; an archived task restored under its old id): "source_deleted"
  embeddings of the inserted rows are re-evaluated against the restored content.
"""

from __future__ import annotations

import pgtrigger

from .sources import Source

TABLE = "embeddings_embedding"


def source_triggers(source: Source, model) -> list[pgtrigger.Trigger]:
    kind = f"'{source.entity_type}'"
    fields = source.fields
    new_hash = source.hash_sql("NEW", model)
    row_hash = source.hash_sql("n", model)
    fresh_or_stale = """
        stale_since = CASE WHEN e.content_hash = {h} THEN NULL ELSE coalesce(e.stale_since, now()) END,
        stale_reason = CASE WHEN e.content_hash = {h} THEN '' ELSE 'content_changed' END"""
    return [
        pgtrigger.Trigger(
            name="embeddings_content_changed",
            level=pgtrigger.Row,
            when=pgtrigger.After,
            operation=pgtrigger.UpdateOf(*fields),
            condition=pgtrigger.AnyChange(*fields),
            func=f"""
            UPDATE {TABLE} e SET {fresh_or_stale.format(h=new_hash)}
            WHERE e.entity_type = {kind} AND e.entity_id = NEW.id
              AND ((e.stale_since IS NULL AND e.content_hash <> {new_hash})
                   OR (e.stale_reason = 'content_changed' AND e.content_hash = {new_hash}));
            RETURN NULL;""",
        ),
        pgtrigger.Trigger(
            name="embeddings_source_deleted",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Delete,
            referencing=pgtrigger.Referencing(old="old_rows"),
            func=f"""
            UPDATE {TABLE} e SET stale_since = coalesce(e.stale_since, now()),
                                 stale_reason = 'source_deleted'
            FROM old_rows o
            WHERE e.entity_type = {kind} AND e.entity_id = o.id AND e.stale_reason <> 'source_deleted';
            RETURN NULL;""",
        ),
        pgtrigger.Trigger(
            name="embeddings_source_restored",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Insert,
            referencing=pgtrigger.Referencing(new="new_rows"),
            func=f"""
            IF EXISTS (SELECT 1 FROM {TABLE} WHERE stale_reason = 'source_deleted'
                       AND entity_type = {kind}) THEN
                UPDATE {TABLE} e SET {fresh_or_stale.format(h=row_hash)}
                FROM new_rows n
                WHERE e.entity_type = {kind} AND e.entity_id = n.id
                  AND e.stale_reason = 'source_deleted';
            END IF;
            RETURN NULL;""",
        ),
    ]
