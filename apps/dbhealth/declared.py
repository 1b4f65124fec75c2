"""What the models declare about the database: tables, columns, indexes and constraints, in the
shape the schema-drift check compares with the catalog (apps/dbhealth/checks/drift.py).

Field-level objects (primary key, unique, db_index, foreign keys, db_check, the `_like` pattern
index PostgreSQL's schema editor adds) have generated names, so they are matched by shape;
Meta.indexes and Meta.constraints by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connection, models

# How Django's column types read once PostgreSQL's format_type() has spelled them.
_ALIASES = {
    "serial": "integer",
    "bigserial": "bigint",
    "smallserial": "smallint",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "bool": "boolean",
    "float8": "double precision",
    "float4": "real",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
}
_VARCHAR = re.compile(r"^varchar(\(\d+\))?$")
_CHAR = re.compile(r"^char(\(\d+\))?$")


def normalize_type(db_type: str) -> str:
    t = re.sub(r"\s+", " ", db_type.strip().lower())
    array = ""
    while t.endswith("[]"):
        t, array = t[:-2].strip(), array + "[]"
    t = re.sub(r"\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", r"(\1,\2)", t)
    if m := _VARCHAR.match(t):
        t = "character varying" + (m.group(1) or "")
    elif m := _CHAR.match(t):
        t = "character" + (m.group(1) or "(1)")
    t = _ALIASES.get(t, t)
    return t + array


def squash_check(expression: str) -> str:
    """A CHECK's text without quotes, parentheses, spaces or the keyword, for comparing Django's
    `db_check` with pg_get_constraintdef()."""
    text = re.sub(r'[\s()"]', "", expression.lower())
    return text.removeprefix("check")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    null: bool | None  # None: not compared (a generated column is never NOT NULL)


@dataclass(frozen=True)
class IndexShape:
    """An index matched by shape: key columns in order, unique, pattern opclass (`_like`)."""

    columns: tuple[str, ...]
    unique: bool = False
    pattern: bool = False


@dataclass
class Table:
    name: str
    model: str
    model_cls: type[models.Model] | None = None
    columns: dict[str, Column] = field(default_factory=dict)
    # name → key columns in order ('' for an expression), None when it has expressions only
    named_indexes: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    index_shapes: set[IndexShape] = field(default_factory=set)
    # name → contype ('u' may be an index only: a UniqueConstraint with a condition/expression)
    named_constraints: dict[str, str] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    unique_shapes: set[tuple[str, ...]] = field(default_factory=set)
    foreign_keys: set[tuple[str, str]] = field(default_factory=set)  # (column, referenced table)
    checks: dict[str, str] = field(default_factory=dict)  # column → its field's CHECK, squashed
    fields: dict[str, models.Field] = field(default_factory=dict)  # column → field


def _is_text(db_type: str) -> str:
    return db_type.startswith("varchar") or db_type.startswith("text")


def _field_objects(table: Table, f: models.Field, db_type: str) -> None:
    col = f.column
    if f.primary_key:
        table.primary_key = (col,)
    elif f.unique:
        table.unique_shapes.add((col,))
    elif f.db_index:
        table.index_shapes.add(IndexShape((col,)))
    if (f.db_index or f.unique) and _is_text(db_type) and "[" not in db_type:
        table.index_shapes.add(IndexShape((col,), pattern=True))
    if f.is_relation and (f.many_to_one or f.one_to_one) and getattr(f, "db_constraint", False):
        table.foreign_keys.add((col, f.related_model._meta.db_table))
    if check := f.db_check(connection):
        table.checks[col] = squash_check(check)


def _meta_objects(table: Table, model: type[models.Model]) -> None:
    opts = model._meta
    for index in opts.indexes:
        if index.expressions:
            table.named_indexes[index.name] = None
        else:
            table.named_indexes[index.name] = tuple(
                opts.get_field(name.lstrip("-")).column for name in index.fields
            )
    for constraint in opts.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            table.named_constraints[constraint.name] = "u"
        elif isinstance(constraint, models.CheckConstraint):
            table.named_constraints[constraint.name] = "c"
        else:  # ExclusionConstraint
            table.named_constraints[constraint.name] = "x"
    for fields in opts.unique_together:
        table.unique_shapes.add(tuple(opts.get_field(name).column for name in fields))


def migration_state():
    """The models as the migrations on disk build them (what `migrate` created), not the
    runtime classes: the two differ where Django's state does (an auto-created M2M table's id
    is bigint in a migration, integer in a runtime model whose app defaults to AutoField);
    models against migrations is `makemigrations --check`'s job."""
    from django.db.migrations.loader import MigrationLoader

    return MigrationLoader(None, ignore_no_migrations=True).project_state().apps


def tables(registry=None) -> dict[str, Table]:
    """Every managed, concrete model's table (auto-created M2M tables included), by name."""
    registry = registry or migration_state()
    out: dict[str, Table] = {}
    for model in registry.get_models(include_auto_created=True):
        opts = model._meta
        if not opts.managed or opts.proxy or opts.swapped or "." in opts.db_table:
            continue
        table = out.setdefault(opts.db_table, Table(opts.db_table, opts.label, model))
        for f in opts.local_concrete_fields:
            db_type = f.db_parameters(connection)["type"]  # a GeneratedField's too
            if db_type is None:
                continue
            null = None if f.generated else bool(f.null) and not f.primary_key
            table.columns[f.column] = Column(f.column, normalize_type(db_type), null)
            table.fields[f.column] = f
            _field_objects(table, f, db_type)
        _meta_objects(table, model)
    return out
