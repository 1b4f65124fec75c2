"""Which columns an index can sort a big table by, read from the models' declarations.

A column is sortable when a b-tree index leads with it (a field's `db_index`/`unique`, a
`Meta.indexes` entry, a unique constraint). An unmanaged shadow of a partitioned table takes the
indexes of the managed model over the same table.
"""

from __future__ import annotations

from functools import cache

from django.apps import apps
from django.contrib.postgres.indexes import PostgresIndex
from django.db import models


@cache
def index_leading_columns(db_table: str) -> frozenset[str]:
    leading: set[str] = set()
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.db_table != db_table or not opts.managed:  # a shadow declares no index
            continue
        if isinstance(opts.pk, models.CompositePrimaryKey):
            leading.add(opts.get_field(opts.pk.field_names[0]).column)
        for field in opts.concrete_fields:
            if field.primary_key or field.unique or field.db_index:
                leading.add(field.column)
        for index in opts.indexes:
            # GIN/GiST have no order; a partial index serves only its own condition.
            if isinstance(index, PostgresIndex) or not index.fields or index.condition:
                continue
            leading.add(opts.get_field(index.fields[0].lstrip("-")).column)
        for constraint in opts.constraints:
            if (
                isinstance(constraint, models.UniqueConstraint)
                and constraint.fields
                and constraint.condition is None
            ):
                leading.add(opts.get_field(constraint.fields[0]).column)
    return frozenset(leading)


def index_sortable(model, name: str) -> bool:
    """True when `name` (a field name, as in list_display) is a column an index leads with."""
    try:
        field = model._meta.get_field(name)
    except Exception:  # a method, a lookup across relations: sorted through a join or in Python
        return False
    if not getattr(field, "concrete", False) or field.is_relation:
        return False  # sorting by a FK sorts by the related model's ordering, through a join
    return field.column in index_leading_columns(model._meta.db_table)
