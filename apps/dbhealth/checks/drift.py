"""Schema drift: the live database against what the models and migrations declare.

Tables and columns (type, nullability) of managed models in `public`; their indexes and
constraints (missing, invalid, or present but declared by nobody); pgtrigger triggers (missing,
outdated, disabled, extra); unapplied migrations. Partitions are not compared (their indexes and
constraints are the parent's copies), nor objects an extension owns. Each difference is one
finding `drift.<what>:<object>`; `manage.py schema_audit` exits 1 when there is any.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from .. import conf, declared
from ..runner import fetch, ident
from .base import FindingCandidate, Severity, check, finding

# Ordinary and partitioned tables of `public` that are no partition and no extension's.
TABLES_SQL = """
SELECT c.oid::bigint AS oid, c.relname AS name, c.relkind AS kind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.relname LIMIT %s
"""

COLUMNS_SQL = """
SELECT a.attrelid::bigint AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS null
FROM pg_attribute a
WHERE a.attrelid = ANY(%s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum LIMIT %s
"""

# Key columns by name ('' for an expression), and whether any opclass is a *_pattern_ops one.
INDEXES_SQL = """
SELECT i.indrelid::bigint AS oid, ic.relname AS name, i.indisunique AS unique,
       i.indisprimary AS primary, i.indisvalid AND i.indisready AS valid,
       i.indpred IS NOT NULL AS partial,
       ARRAY(SELECT coalesce(a.attname, '')
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE k.ord <= i.indnkeyatts ORDER BY k.ord) AS columns,
       EXISTS (SELECT 1 FROM unnest(i.indclass::oid[]) o(oid) JOIN pg_opclass oc ON oc.oid = o.oid
                WHERE oc.opcname LIKE '%%pattern_ops') AS pattern,
       con.conname AS constraint_name,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                            AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY(%s::oid[])
ORDER BY 1, 2 LIMIT %s
"""

CONSTRAINTS_SQL = """
SELECT con.conrelid::bigint AS oid, con.conname AS name, con.contype AS type,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       rt.relname AS ref_table, pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
LEFT JOIN pg_class rt ON rt.oid = con.confrelid
WHERE con.conrelid = ANY(%s::oid[]) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
ORDER BY 1, 2 LIMIT %s
"""

# pgtrigger's triggers on public's tables (a partition's clones excluded: tgparentid).
TRIGGERS_SQL = """
SELECT c.relname AS table, t.tgname AS name, obj_description(t.oid, 'pg_trigger') AS hash,
       t.tgenabled AS enabled
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND t.tgname LIKE 'pgtrigger\\_%%' AND t.tgparentid = 0
  AND NOT t.tgisinternal
ORDER BY 1, 2 LIMIT %s
"""

# Tables Django keeps itself without a model.
UNMODELLED_TABLES = frozenset({"django_migrations"})
_ROWS = 100_000


def _catalog(using: str | None) -> dict[str, Any]:
    tables = {r["name"]: r for r in fetch(TABLES_SQL, [20_000], using=using, timeout_ms=10_000)}
    oids = [t["oid"] for t in tables.values()]
    by_oid = {t["oid"]: t["name"] for t in tables.values()}
    out: dict[str, dict] = {
        name: {**t, "columns": {}, "indexes": [], "constraints": []} for name, t in tables.items()
    }
    for sql_text, key in (
        (COLUMNS_SQL, "columns"),
        (INDEXES_SQL, "indexes"),
        (CONSTRAINTS_SQL, "constraints"),
    ):
        for r in fetch(sql_text, [oids, _ROWS], using=using, timeout_ms=15_000):
            table = out[by_oid[r["oid"]]]
            if key == "columns":
                table["columns"][r["name"]] = r
            else:
                table[key].append(r)
    return out  # fmt: skip


def _item(
    kind: str,
    obj: str,
    title: str,
    *,
    detail: dict | None = None,
    fix: str = "",
    severity=Severity.WARNING,
) -> dict:
    return {"kind": f"drift.{kind}", "object": obj, "title": title, "detail": detail or {},
            "fix": fix, "severity": severity}  # fmt: skip


def _ddl(build) -> str:
    """SQL Django's schema editor would run (collected, never executed); '' if it cannot say."""
    try:
        with connections[DEFAULT_DB_ALIAS].schema_editor(collect_sql=True, atomic=False) as editor:
            statements = build(editor)
            if not isinstance(statements, list | tuple):
                statements = [statements]
            text = [str(s).rstrip(";") + ";" for s in statements if s] + list(editor.collected_sql)
    except Exception:  # a field or expression the editor cannot render outside a migration
        return ""
    return "\n".join(dict.fromkeys(text))


def _compare_columns(spec: declared.Table, live: dict) -> Iterable[dict]:
    t = spec.name
    for name, col in spec.columns.items():
        have = live["columns"].get(name)
        if have is None:
            f = spec.fields[name]
            yield _item("column_missing", f"{t}.{name}", f"Column {t}.{name} ({spec.model}) is missing",
                        detail={"declared_type": col.type},
                        fix=_ddl(lambda e, f=f: e.add_field(spec.model_cls, f)), severity=Severity.CRITICAL)  # fmt: skip
            continue
        if declared.normalize_type(have["type"]) != col.type:
            yield _item("column_type", f"{t}.{name}",
                        f"Column {t}.{name} is {have['type']}, the model declares {col.type}",
                        detail={"live_type": have["type"], "declared_type": col.type},
                        fix=f"ALTER TABLE {ident('public', t)} ALTER COLUMN {ident(name)} TYPE {col.type};"
                            "  -- may rewrite the table under ACCESS EXCLUSIVE")  # fmt: skip
        if col.null is not None and have["null"] != col.null:
            change = "DROP NOT NULL" if col.null else "SET NOT NULL"
            yield _item("column_null", f"{t}.{name}",
                        f"Column {t}.{name} is {'nullable' if have['null'] else 'NOT NULL'}, the model "
                        f"declares {'null=True' if col.null else 'null=False'}",
                        detail={"live_null": have["null"], "declared_null": col.null},
                        fix=f"ALTER TABLE {ident('public', t)} ALTER COLUMN {ident(name)} {change};"
                            + ("  -- scans the table under ACCESS EXCLUSIVE" if not col.null else ""))  # fmt: skip
    for name, have in live["columns"].items():
        if name not in spec.columns:
            yield _item("column_extra", f"{t}.{name}",
                        f"Column {t}.{name} ({have['type']}) is declared by no field of {spec.model}",
                        detail={"live_type": have["type"], "nullable": have["null"]},
                        fix=f"-- add the field to {spec.model}, or drop the column:\n"
                            f"ALTER TABLE {ident('public', t)} DROP COLUMN {ident(name)};",
                        severity=Severity.WARNING if have["null"] else Severity.CRITICAL)  # fmt: skip


def _shape(ix: dict) -> declared.IndexShape | None:
    if ix["partial"] or "" in ix["columns"]:
        return None
    return declared.IndexShape(tuple(ix["columns"]), bool(ix["unique"]), bool(ix["pattern"]))


def _index_fix(spec: declared.Table, shape: declared.IndexShape, partitioned: bool) -> str:
    f = spec.fields.get(shape.columns[0])
    if f is None or len(shape.columns) != 1:
        return ""
    if shape.pattern:
        return _ddl(lambda e: e._create_like_index_sql(spec.model_cls, f))
    return _ddl(
        lambda e: e._create_index_sql(spec.model_cls, fields=[f], concurrently=not partitioned)
    )


def _compare_indexes(spec: declared.Table, live: dict) -> Iterable[dict]:
    t, partitioned = spec.name, live["kind"] == "p"
    opts = spec.model_cls._meta
    by_name = {ix["name"]: ix for ix in live["indexes"]}
    shapes = {_shape(ix): ix for ix in live["indexes"] if not ix["constraint_name"]}
    for name, columns in spec.named_indexes.items():
        ix = by_name.get(name)
        index = next(i for i in opts.indexes if i.name == name)
        if ix is None:
            yield _item("index_missing", f"{t}.{name}", f"Index {name} on {t} ({spec.model}.Meta.indexes) is missing",
                        fix=_ddl(lambda e, i=index: i.create_sql(spec.model_cls, e, concurrently=not partitioned)))  # fmt: skip
        elif columns is not None and tuple(ix["columns"]) != columns:
            yield _item("index_differs", f"{t}.{name}",
                        f"Index {name} on {t} has columns ({', '.join(ix['columns'])}), the model declares "
                        f"({', '.join(columns)})", detail={"definition": ix["definition"]})  # fmt: skip
    for shape in spec.index_shapes:
        if shape not in shapes:
            yield _item("index_missing", f"{t}.({','.join(shape.columns)}){'.pattern' if shape.pattern else ''}",
                        f"{'Pattern-ops index' if shape.pattern else 'Index'} on {t} ({', '.join(shape.columns)}) "
                        f"declared by {spec.model} (db_index/unique/ForeignKey) is missing",
                        fix=_index_fix(spec, shape, partitioned))  # fmt: skip
    declared_names = set(spec.named_indexes) | set(spec.named_constraints)
    for ix in live["indexes"]:
        if not ix["valid"]:
            yield _item("index_invalid", f"{t}.{ix['name']}", f"Index {ix['name']} on {t} is invalid (a failed build)",
                        detail={"definition": ix["definition"]},
                        fix=f"DROP INDEX {'' if partitioned else 'CONCURRENTLY '}{ident('public', ix['name'])};\n"
                            f"{ix['definition'].replace('CREATE INDEX', 'CREATE INDEX CONCURRENTLY', 1) if not partitioned else ix['definition']};")  # fmt: skip
        if ix["constraint_name"] or ix["name"] in declared_names:
            continue
        if _shape(ix) in spec.index_shapes:
            continue
        yield _item("index_extra", f"{t}.{ix['name']}",
                    f"Index {ix['name']} on {t} is declared by no model or migration",
                    detail={"definition": ix["definition"]},
                    fix=f"-- declare it in {spec.model}.Meta.indexes (a migration), or drop it:\n"
                        f"DROP INDEX {'' if partitioned else 'CONCURRENTLY '}{ident('public', ix['name'])};",
                    severity=Severity.INFO)  # fmt: skip


def _constraint_declared(spec: declared.Table, con: dict, partitioned: bool) -> bool:
    cols = tuple(con["columns"])
    if con["name"] in spec.named_constraints:
        return True
    match con["type"]:
        case "p":  # a partitioned table's key also holds the partition key (psqlextra)
            return cols == spec.primary_key or (partitioned and set(spec.primary_key) < set(cols))
        case "u":
            return cols in spec.unique_shapes
        case "f":
            return len(cols) == 1 and (cols[0], con["ref_table"]) in spec.foreign_keys
        case "c":
            squashed = declared.squash_check(con["definition"])
            return len(cols) == 1 and spec.checks.get(cols[0]) == squashed
    return False


def _compare_constraints(spec: declared.Table, live: dict) -> Iterable[dict]:
    t = spec.name
    opts = spec.model_cls._meta
    cons = live["constraints"]
    names = {c["name"] for c in cons} | {ix["name"] for ix in live["indexes"]}
    for name in spec.named_constraints:
        if name not in names:
            constraint = next(c for c in opts.constraints if c.name == name)
            yield _item("constraint_missing", f"{t}.{name}",
                        f"Constraint {name} on {t} ({spec.model}.Meta.constraints) is missing",
                        fix=_ddl(lambda e, c=constraint: c.create_sql(spec.model_cls, e)))  # fmt: skip
    have = {(c["type"], tuple(c["columns"]), c["ref_table"]) for c in cons}
    if spec.primary_key and not any(
        c["type"] == "p" and _constraint_declared(spec, c, live["kind"] == "p") for c in cons
    ):
        yield _item("constraint_missing", f"{t}.primary_key", f"{t} has no primary key on ({', '.join(spec.primary_key)})",
                    severity=Severity.CRITICAL)  # fmt: skip
    for cols in spec.unique_shapes:
        if ("u", cols, None) not in have:
            f = spec.fields.get(cols[0])
            yield _item("constraint_missing", f"{t}.unique({','.join(cols)})",
                        f"Unique constraint on {t} ({', '.join(cols)}) declared by {spec.model} is missing",
                        fix=_ddl(lambda e, cols=cols: e._create_unique_sql(spec.model_cls, [spec.fields[c] for c in cols])) if f else "")  # fmt: skip
    for col, ref in spec.foreign_keys:
        if ("f", (col,), ref) not in have:
            f = spec.fields[col]
            yield _item("constraint_missing", f"{t}.fk({col})",
                        f"Foreign key {t}.{col} → {ref} declared by {spec.model} is missing",
                        fix=_ddl(lambda e, f=f: e._create_fk_sql(spec.model_cls, f, "_fk_%(to_table)s_%(to_column)s")))  # fmt: skip
    for con in cons:
        if not _constraint_declared(spec, con, live["kind"] == "p"):
            yield _item("constraint_extra", f"{t}.{con['name']}",
                        f"Constraint {con['name']} on {t} is declared by no model or migration",
                        detail={"definition": con["definition"]},
                        fix=f"-- declare it in {spec.model}.Meta.constraints (a migration), or drop it:\n"
                            f"ALTER TABLE {ident('public', t)} DROP CONSTRAINT {ident(con['name'])};",
                        severity=Severity.INFO)  # fmt: skip


def _triggers(using: str | None) -> Iterable[dict]:
    """pgtrigger's status rules (its hash comment, tgenabled) in one catalog read, not its one
    query per trigger."""
    import pgtrigger

    live = {(r["table"], r["name"]): r for r in fetch(TRIGGERS_SQL, [20_000], using=using)}
    seen = set()
    for model, trigger in pgtrigger.registered():
        opts = model._meta
        key = (opts.db_table, trigger.get_pgid(model))
        seen.add(key)  # a proxy's triggers are installed on its concrete table
        if opts.proxy or not opts.managed or "." in opts.db_table:
            continue
        row = live.get(key)
        if row is None:
            state = "uninstalled"
        elif row["hash"] != trigger.compile(model).hash:
            state = "outdated"
        elif row["enabled"] != "O":
            state = "disabled"
        else:
            continue
        action = "enable" if state == "disabled" else "install"
        yield _item(f"trigger_{state}", f"{key[0]}.{key[1]}", f"Trigger {trigger.get_uri(model)} is {state}",
                    fix=f"-- python manage.py pgtrigger {action} {trigger.get_uri(model)}")  # fmt: skip
    for key in live:
        if key not in seen:
            yield _item("trigger_extra", f"{key[0]}.{key[1]}", f"Trigger {key[1]} on {key[0]} is declared by no model",
                        fix=f"DROP TRIGGER {ident(key[1])} ON {ident('public', key[0])};", severity=Severity.INFO)  # fmt: skip


def _migrations(using: str) -> Iterable[dict]:
    # Every node of the graph not recorded as applied: a plan to the leaves would skip a gap
    # below an applied leaf (its target counts as reached).
    loader = MigrationExecutor(connections[using]).loader
    for app_label, migration_name in sorted(
        set(loader.graph.nodes) - set(loader.applied_migrations)
    ):
        name = f"{app_label}.{migration_name}"
        yield _item("migration_unapplied", name, f"Migration {name} is not applied",
                    fix="-- python manage.py migrate --database owner", severity=Severity.CRITICAL)  # fmt: skip


def audit(*, using: str | None = None) -> list[dict]:
    """Every difference between the models/migrations and the live schema, ordered."""
    alias = using or DEFAULT_DB_ALIAS
    items = list(_migrations(alias))
    specs = declared.tables()
    live = _catalog(using)
    ignored = set(conf.get("DRIFT_IGNORE_TABLES")) | UNMODELLED_TABLES
    for name, spec in specs.items():
        if name not in live:
            items.append(_item("table_missing", name, f"Table {name} ({spec.model}) is missing",
                               severity=Severity.CRITICAL, fix="-- python manage.py migrate --database owner"))  # fmt: skip
            continue
        for compare in (_compare_columns, _compare_indexes, _compare_constraints):
            items.extend(compare(spec, live[name]))
    for name in live:
        if name not in specs and name not in ignored:
            items.append(_item("table_extra", name, f"Table {name} is declared by no model",
                               fix=f"-- a leftover of a removed model? check, then:\nDROP TABLE {ident('public', name)};",
                               severity=Severity.INFO))  # fmt: skip
    items.extend(_triggers(using))
    order = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(items, key=lambda i: (order[i["severity"]], i["kind"], i["object"]))


def report(*, using: str | None = None) -> dict[str, Any]:
    items = audit(using=using)
    counts: dict[str, int] = {}
    for i in items:
        counts[i["kind"]] = counts.get(i["kind"], 0) + 1
    return {"drift": items, "counts": counts, "clean": not items}


@check("drift", "drift.")
def schema_drift(report: dict) -> Iterable[FindingCandidate]:
    for i in report["drift"]:
        yield finding(i["kind"], i["object"], i["title"], severity=i["severity"],
                      evidence=i["detail"], fix=i["fix"])  # fmt: skip
