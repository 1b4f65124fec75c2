"""Constraints: NOT VALID ones, tables without a primary key (or any replica identity), foreign
keys whose column type differs from the referenced key, and duplicated/intersected foreign keys."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ..runner import USER_SCHEMAS, fetch, ident, qualified
from .base import FindingCandidate, Severity, check, finding
from .thirdparty import third_party_note

NOT_VALID_SQL = f"""
SELECT n.nspname AS schema, t.relname AS table, con.conname AS name, con.contype AS type,
       pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE NOT con.convalidated AND con.contype IN ('c', 'f') AND con.conparentid = 0
  AND NOT t.relispartition AND {USER_SCHEMAS}
ORDER BY 1, 2, 3 LIMIT %s
"""

# relreplident: d = default (the primary key), n = nothing, f = full, i = an index.
NO_PRIMARY_KEY_SQL = f"""
SELECT n.nspname AS schema, c.relname AS table, c.relkind AS kind, c.relreplident AS replident,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id'
                 AND NOT a.attisdropped) AS has_id,
       (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
           AND i.indexprs IS NULL
           AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) k(attnum)
                             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                            WHERE NOT a.attnotnull)
         ORDER BY ic.relname LIMIT 1) AS unique_not_null_index,
       pg_stat_get_live_tuples(c.oid) AS live_tuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMAS}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p')
ORDER BY 1, 2 LIMIT %s
"""

# One row per (foreign key, column pair): the column's type against the referenced column's.
FK_COLUMNS_SQL = f"""
SELECT con.oid::bigint AS oid, n.nspname AS schema, t.relname AS table, con.conname AS name,
       con.confrelid::bigint AS ref_oid, rn.nspname AS ref_schema, rt.relname AS ref_table,
       k.ord::int AS ord, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS column_type,
       ra.attname AS ref_column, format_type(ra.atttypid, ra.atttypmod) AS ref_type,
       a.atttypid = ra.atttypid AS same_type, con.convalidated AS validated
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class rt ON rt.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = rt.relnamespace
JOIN unnest(con.conkey, con.confkey) WITH ORDINALITY k(attnum, refnum, ord) ON true
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refnum
WHERE con.contype = 'f' AND con.conparentid = 0 AND NOT t.relispartition AND {USER_SCHEMAS}
ORDER BY n.nspname, t.relname, con.conname, k.ord
LIMIT %s
"""

_LOCKS = {
    "c": "SHARE UPDATE EXCLUSIVE on the table: reads and writes go on while it scans",
    "f": "SHARE UPDATE EXCLUSIVE on the table and ROW SHARE on the referenced one: "
    "reads and writes go on while it scans",
}


@check("tables", "constraint.not_valid")
def not_valid_constraints(report: dict) -> Iterable[FindingCandidate]:
    for r in fetch(NOT_VALID_SQL, [2_000]):
        what = "check" if r["type"] == "c" else "foreign key"
        yield finding(
            "constraint.not_valid",
            f"{r['schema']}.{r['table']}.{r['name']}",
            f"{what.title()} constraint {r['name']} on {qualified(r['schema'], r['table'])} is NOT VALID "
            "(existing rows were never checked)",
            severity=Severity.INFO,
            evidence={"definition": r["definition"], "lock": _LOCKS[r["type"]]},
            fix=(
                f"ALTER TABLE {ident(r['schema'], r['table'])} VALIDATE CONSTRAINT {ident(r['name'])};"
                f"  -- takes {_LOCKS[r['type']]}; fails, naming a row, if one violates it"
            ),
        )


@check("tables", "table.no_primary_key")
def tables_without_primary_key(report: dict) -> Iterable[FindingCandidate]:
    for r in fetch(NO_PRIMARY_KEY_SQL, [2_000]):
        table = ident(r["schema"], r["table"])
        no_identity = r["replident"] in ("d", "n")
        if r["unique_not_null_index"] and r["kind"] == "r":
            fix = (
                f"ALTER TABLE {table} ADD PRIMARY KEY USING INDEX {ident(r['unique_not_null_index'])};"
                "  -- promotes the existing unique index: a brief ACCESS EXCLUSIVE lock, no scan"
            )
        else:
            column = "pk_id" if r["has_id"] else "id"
            fix = (
                f"ALTER TABLE {table} ADD COLUMN {column} bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
                "  -- rewrites the table under ACCESS EXCLUSIVE; prefer a natural key if one exists"
            )
        yield finding(
            "table.no_primary_key",
            f"{r['schema']}.{r['table']}",
            f"{qualified(r['schema'], r['table'])} has no primary key"
            + (" and no replica identity" if no_identity else ""),
            severity=Severity.WARNING if no_identity else Severity.INFO,
            evidence={
                "replica_identity": {"d": "default (none without a primary key)", "n": "nothing",
                                     "f": "full", "i": "index"}[r["replident"]],
                "live_tuples": r["live_tuples"],
                "why": "rows cannot be addressed reliably; logical replication cannot replicate "
                "UPDATE/DELETE without a replica identity",
                "third_party": third_party_note(r["table"]),
            },
            fix=fix,
        )  # fmt: skip


def foreign_key_columns() -> list[dict]:
    return fetch(FK_COLUMNS_SQL, [20_000], timeout_ms=10_000)


@check("indexes", "fk.type_mismatch")
def foreign_key_type_mismatch(report: dict) -> Iterable[FindingCandidate]:
    for r in foreign_key_columns():
        if r["same_type"]:
            continue
        yield finding(
            "fk.type_mismatch",
            f"{r['schema']}.{r['table']}.{r['name']}.{r['column_name']}",
            f"Foreign key {r['name']}: {qualified(r['schema'], r['table'])}.{r['column_name']} is "
            f"{r['column_type']} but references {r['ref_table']}.{r['ref_column']} {r['ref_type']}",
            evidence={
                "column_type": r["column_type"],
                "referenced_type": r["ref_type"],
                "why": "values beyond the narrower type cannot be referenced; joins cast",
                "third_party": third_party_note(r["table"]),
            },
            fix=(
                f"ALTER TABLE {ident(r['schema'], r['table'])} ALTER COLUMN {ident(r['column_name'])} "
                f"TYPE {r['ref_type']};  -- rewrites the table under ACCESS EXCLUSIVE"
            ),
        )


def _fk_shapes() -> dict[tuple, list[dict]]:
    """Per (table, referenced table): each FK with its set of (column, referenced column)."""
    fks: dict[int, dict] = {}
    for r in foreign_key_columns():
        fk = fks.setdefault(r["oid"], {**r, "pairs": set()})
        fk["pairs"].add((r["column_name"], r["ref_column"]))
    out: dict[tuple, list[dict]] = defaultdict(list)
    for fk in fks.values():
        out[(fk["schema"], fk["table"], fk["ref_oid"])].append(fk)
    return out


@check("indexes", "fk.duplicate", "fk.intersected")
def duplicate_foreign_keys(report: dict) -> Iterable[FindingCandidate]:
    for group in _fk_shapes().values():
        for fk in group:
            for other in group:
                if other["oid"] == fk["oid"]:
                    continue
                same = fk["pairs"] == other["pairs"]
                if same and fk["name"] > other["name"]:
                    yield finding(
                        "fk.duplicate",
                        f"{fk['schema']}.{fk['table']}.{fk['name']}",
                        f"Foreign key {fk['name']} duplicates {other['name']} on "
                        f"{qualified(fk['schema'], fk['table'])}",
                        evidence={"columns": sorted(c for c, _ in fk["pairs"]),
                                  "duplicate_of": other["name"]},
                        fix=f"ALTER TABLE {ident(fk['schema'], fk['table'])} DROP CONSTRAINT {ident(fk['name'])};",
                    )  # fmt: skip
                    break
                if not same and fk["pairs"] < other["pairs"]:
                    yield finding(
                        "fk.intersected",
                        f"{fk['schema']}.{fk['table']}.{fk['name']}",
                        f"Foreign key {fk['name']} is a subset of {other['name']} on "
                        f"{qualified(fk['schema'], fk['table'])}",
                        severity=Severity.INFO,
                        evidence={"columns": sorted(c for c, _ in fk["pairs"]),
                                  "wider": other["name"]},
                        fix=(
                            "-- review: with MATCH SIMPLE the wider key is not checked while one of "
                            "its columns is NULL, so the narrower one may still be needed"
                        ),
                    )  # fmt: skip
                    break
