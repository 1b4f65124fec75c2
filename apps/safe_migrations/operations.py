"""Migration operations for big tables.

`AddPartitionedIndex`: PostgreSQL cannot CREATE INDEX CONCURRENTLY on a partitioned parent, and
a plain CREATE INDEX on the parent builds every partition's index while holding a SHARE lock
(no writes) on all of them. Instead:

1. `CREATE INDEX IF NOT EXISTS … ON ONLY parent (…)`: the parent's index, empty and invalid,
   catalog work only;
2. per partition: `CREATE INDEX CONCURRENTLY IF NOT EXISTS …` (writes go on), then
   `ALTER INDEX parent_index ATTACH PARTITION partition_index`;
3. once every partition's index is attached, PostgreSQL marks the parent's index valid. New
   partitions get a copy automatically when they are created.

Retry-safe: a concurrent build that failed (a lock timeout, a cancelled session) leaves an
INVALID index behind, which a re-run drops (`DROP INDEX CONCURRENTLY`) and builds again; indexes
already built and attached are skipped. Like Django's AddIndexConcurrently it needs a
non-atomic migration (`atomic = False`). The migration state is AddIndex's, so the index is
declared in the model's `Meta.indexes` as usual and `makemigrations` sees no difference.
"""

from __future__ import annotations

import hashlib

from django.db import NotSupportedError
from django.db.backends.ddl_references import Table
from django.db.migrations.operations import AddIndex

PARENT_TEMPLATE = (
    "CREATE INDEX IF NOT EXISTS %(name)s ON ONLY %(table)s%(using)s "
    "(%(columns)s)%(include)s%(extra)s%(condition)s"
)
PARTITION_TEMPLATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS %(name)s ON %(table)s%(using)s "
    "(%(columns)s)%(include)s%(extra)s%(condition)s"
)

PARTITIONS_SQL = """
SELECT n.nspname, c.relname, c.relkind
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname
"""
INDEX_STATE_SQL = """
SELECT i.indisvalid,
       EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid
               AND h.inhparent = to_regclass(%s))
FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s
"""


def partition_index_name(partition: str, index_name: str) -> str:
    """A stable, unique name ≤ 63 bytes for the partition's copy of `index_name`."""
    digest = hashlib.sha1(index_name.encode()).hexdigest()[:8]
    return f"{partition[:50]}_{digest}_idx"


class AddPartitionedIndex(AddIndex):
    """AddIndex for a partitioned table: ON ONLY parent + CONCURRENTLY per partition + ATTACH."""

    def describe(self):
        return (
            f"Create index {self.index.name} on partitioned {self.model_name} "
            "(ON ONLY, then concurrently per partition)"
        )

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.atomic_migration:
            raise NotSupportedError(
                "AddPartitionedIndex builds indexes CONCURRENTLY, which cannot run inside a "
                "transaction: set `atomic = False` on the migration"
            )
        connection = schema_editor.connection
        qn = schema_editor.quote_name
        table = model._meta.db_table
        schema_editor.execute(self.index.create_sql(model, schema_editor, sql=PARENT_TEMPLATE))
        collecting = schema_editor.collect_sql
        with connection.cursor() as cursor:
            cursor.execute(PARTITIONS_SQL, [qn(table)])
            partitions = cursor.fetchall()
        for schema, partition, kind in partitions:
            if kind == "p":
                raise NotSupportedError(
                    f"{schema}.{partition} is itself partitioned: index its partitions first"
                )
            name = partition_index_name(partition, self.index.name)
            valid, attached = (None, False)
            if not collecting:
                with connection.cursor() as cursor:
                    cursor.execute(INDEX_STATE_SQL, [qn(self.index.name), schema, name])
                    row = cursor.fetchone()
                if row is not None:
                    valid, attached = row
            if valid and attached:
                continue
            if valid is False:  # left INVALID by a failed concurrent build
                schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {qn(schema)}.{qn(name)}")
            if not valid:
                statement = self.index.create_sql(model, schema_editor, sql=PARTITION_TEMPLATE)
                statement.parts["table"] = _QualifiedTable(schema, partition, qn)
                statement.parts["name"] = qn(name)
                schema_editor.execute(statement)
            schema_editor.execute(
                f"ALTER INDEX {qn(self.index.name)} ATTACH PARTITION {qn(schema)}.{qn(name)}"
            )


class _QualifiedTable(Table):
    def __init__(self, schema: str, table: str, quote_name):
        super().__init__(table, quote_name)
        self.schema = schema

    def __str__(self):
        return f"{self.quote_name(self.schema)}.{self.quote_name(self.table)}"
