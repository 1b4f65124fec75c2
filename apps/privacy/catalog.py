"""The relations and columns the erasure searches, read from the catalog (so every partition,
every archived table and every column added later is included without being listed)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from django.db import connections

# Every table and materialized view of the managed schemas; partitioned parents are left out
# (their leaf partitions are listed), extensions' own tables too.
RELATIONS_SQL = """
SELECT n.nspname, c.relname, c.relkind,
       CASE WHEN c.relispartition THEN r.relname END,
       greatest(c.reltuples, 0)::bigint,
       EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute ia
                 ON ia.attrelid = c.oid AND ia.attnum = i.indkey[0] AND ia.attname = 'id'
               WHERE i.indrelid = c.oid AND i.indisvalid),
       ARRAY(SELECT a.attname::text FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
       ARRAY(SELECT a.attname::text || ':' || format_type(a.atttypid, NULL) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                AND format_type(a.atttypid, NULL) = ANY(%(types)s) ORDER BY a.attnum),
       c.relkind = 'm' AND c.relispopulated
           AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                       AND i.indpred IS NULL AND i.indexprs IS NULL)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid)
WHERE n.nspname = ANY(%(schemas)s) AND c.relkind IN ('r', 'm')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
"""

TEXT_TYPES = {"text": "text", "character varying": "text", "character": "text"}
JSON_TYPES = {"jsonb": "json", "json": "json"}
ARRAY_TYPES = {"text[]": "array", "character varying[]": "array", "character[]": "array"}
COLUMN_KINDS = {**TEXT_TYPES, **JSON_TYPES, **ARRAY_TYPES}
SCHEMAS = ("public", "archive")
_PARTITION_SUFFIX = re.compile(r"^_p\d{6}(\d{2})?$")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text" | "json" | "array"
    sql_type: str


@dataclass
class Relation:
    schema: str
    name: str
    kind: str  # "r" table/partition, "m" materialized view
    root: str | None
    rows_estimate: int
    id_indexed: bool
    all_columns: list[str]
    columns: list[Column]
    refresh_concurrently: bool
    table: str = ""  # the model table it belongs to (parent, or the table an archive copy mirrors)
    skipped: str = ""  # the reason it is never rewritten
    extra: dict = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def quoted(self, qn) -> str:
        return f"{qn(self.schema)}.{qn(self.name)}"


def owning_table(relation: Relation, model_tables: set[str]) -> str:
    """The model table a relation holds rows of: a partition's parent, the live table an
    archived copy mirrors (archive.tasks_task), or the parent of an archived (detached)
    partition (archive.events_event_p202401)."""
    if relation.root:
        return relation.root
    if relation.name in model_tables:
        return relation.name
    for table in sorted(model_tables, key=len, reverse=True):
        if relation.name.startswith(table) and _PARTITION_SUFFIX.match(relation.name[len(table) :]):
            return table
    return relation.name


def relation_list(*, using: str, model_tables: set[str], skip: dict[str, str]) -> list[Relation]:
    with connections[using].cursor() as cursor:
        cursor.execute(RELATIONS_SQL, {"schemas": list(SCHEMAS), "types": list(COLUMN_KINDS)})
        rows = cursor.fetchall()
    relations = []
    for schema, name, kind, root, estimate, id_indexed, all_columns, typed, concurrent in rows:
        columns = []
        for item in typed:
            column, sql_type = item.split(":", 1)
            columns.append(Column(column, COLUMN_KINDS[sql_type], sql_type))
        relation = Relation(
            schema, name, kind, root, estimate, id_indexed, list(all_columns), columns, concurrent
        )
        relation.table = owning_table(relation, model_tables)
        for pattern, reason in skip.items():
            if fnmatch.fnmatchcase(relation.table, pattern):
                relation.skipped = reason
                break
        relations.append(relation)
    return relations
