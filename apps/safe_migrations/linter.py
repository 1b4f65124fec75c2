"""The migration linter: the SQL every operation of every migration would run (collected as
`sqlmigrate` does, so psqlextra's partition operations, pgtrigger's AddTrigger and RunSQL are
all seen as SQL), parsed with PostgreSQL's own parser (pglast), checked for statements that lock
or rewrite a big table that already exists.

A table created earlier in the same migration is new (empty): nothing on it is flagged. "Big" is
every partitioned table (from the migrations' own CREATE TABLE … PARTITION BY, and the catalog)
plus MIGRATION_LINT["BIG_TABLES"] (fnmatch patterns; a partition of a big table is big).
Findings listed in ignores.IGNORED (per migration and rule, each with its reason) are reported
as ignored; an ignore entry that matches nothing is itself a finding, so the list stays true.
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.operations import NotInTransactionMixin
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from pglast import enums, parse_sql
from pglast.ast import (
    AlterTableStmt,
    ClusterStmt,
    CreateStmt,
    FuncCall,
    IndexStmt,
    LockStmt,
    Node,
    RefreshMatViewStmt,
    ReindexStmt,
    VacuumStmt,
)
from pglast.parser import ParseError

from . import ignores

RULES: dict[str, str] = {
    "SM001": "non-concurrent index build on an existing big table (blocks writes for the build)",
    "SM002": "index on a partitioned parent (builds every partition under lock; use AddPartitionedIndex)",
    "SM003": "CONCURRENTLY inside a transaction (PostgreSQL refuses it: set atomic = False)",
    "SM004": "new column whose default is volatile, an identity or a stored generated column (rewrites the table)",
    "SM005": "SET NOT NULL on an existing big table (full scan under ACCESS EXCLUSIVE)",
    "SM006": "ALTER COLUMN … TYPE on an existing big table (rewrite or scan under ACCESS EXCLUSIVE)",
    "SM007": "foreign key without NOT VALID on an existing big table (validates under lock)",
    "SM008": "CHECK constraint without NOT VALID on an existing big table (scan under ACCESS EXCLUSIVE)",
    "SM009": "UNIQUE / PRIMARY KEY constraint built on an existing big table (index build under lock)",
    "SM010": "table rewrite or explicit lock (VACUUM FULL, CLUSTER, SET TABLESPACE/LOGGED, LOCK, non-concurrent REFRESH/REINDEX)",
    "SM011": "SQL the linter cannot parse or render (check it by hand)",
    "SM099": "an ignore entry that matches nothing (remove it)",
}

VOLATILE_FUNCTIONS = {
    "random",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "nextval",
    "txid_current",
}
DEFAULT_BIG_TABLES = (
    "tasks_*",
    "workflows_workflow",
    "knowledge_article",
    "audit_*",
    "events_*",
    "runs_*",
    "embeddings_*",
    "dbhealth_indexusagesnapshot",
    "dbhealth_dataqualityresult",
    "components_systemhealth",
    "django_session",
    "django_admin_log",
)


@dataclass(frozen=True)
class Finding:
    migration: str  # "app.0003_name"
    operation: int  # index in the migration's operations
    description: str
    rule: str
    table: str
    statement: str
    ignored: str = ""  # the reason, when listed in ignores.IGNORED

    @property
    def message(self) -> str:
        return f"{self.migration} op {self.operation} ({self.description}): {self.rule} {RULES[self.rule]} — {self.table}"


@dataclass
class Context:
    atomic: bool
    new_tables: set[str] = field(default_factory=set)
    partitioned: set[str] = field(default_factory=set)


def _config() -> dict:
    return getattr(settings, "MIGRATION_LINT", {})


def big_patterns() -> tuple[str, ...]:
    return tuple(_config().get("BIG_TABLES", DEFAULT_BIG_TABLES))


def linted_apps() -> set[str] | None:
    """App labels whose migrations are linted; None: every app of the project (`apps.*`)."""
    apps = _config().get("APPS")
    return set(apps) if apps is not None else None


def _name(range_var) -> str:
    return range_var.relname if range_var is not None else ""


def _funcs(node) -> set[str]:
    found = set()
    if isinstance(node, FuncCall):
        found.add(node.funcname[-1].sval)
    if isinstance(node, Node):
        for slot in node.__slots__:
            found |= _funcs(getattr(node, slot, None))
    elif isinstance(node, tuple | list):
        for item in node:
            found |= _funcs(item)
    return found


class Linter:
    def __init__(self, *, using: str = "default", partitioned: set[str] | None = None):
        self.using = using
        self.known_partitioned = (
            partitioned if partitioned is not None else _catalog_partitioned(using)
        )

    def is_big(self, table: str, ctx: Context) -> bool:
        if table in ctx.partitioned or table in self.known_partitioned:
            return True
        return any(fnmatch.fnmatchcase(table, p) for p in big_patterns())

    def existing_big(self, table: str, ctx: Context) -> bool:
        return table not in ctx.new_tables and self.is_big(table, ctx)

    # --- one statement ----------------------------------------------------------------------
    def check_statement(self, stmt, ctx: Context) -> list[tuple[str, str]]:
        """(rule, table) pairs for one parsed statement; updates ctx (new tables)."""
        out: list[tuple[str, str]] = []
        if isinstance(stmt, CreateStmt):
            name = _name(stmt.relation)
            ctx.new_tables.add(name)
            if stmt.partspec is not None:
                ctx.partitioned.add(name)
        elif isinstance(stmt, IndexStmt):
            table = _name(stmt.relation)
            if stmt.concurrent and ctx.atomic:
                out.append(("SM003", table))
            partitioned = table in ctx.partitioned or table in self.known_partitioned
            if table in ctx.new_tables:
                pass
            elif partitioned and stmt.relation.inh:
                out.append(("SM002", table))
            elif not stmt.concurrent and not partitioned and self.is_big(table, ctx):
                out.append(("SM001", table))
        elif isinstance(stmt, AlterTableStmt):
            out += self._alter_table(stmt, ctx)
        elif isinstance(stmt, VacuumStmt):
            options = {o.defname for o in stmt.options or ()}
            if "full" in options:
                out += [("SM010", _name(r.relation)) for r in stmt.rels or ()] or [("SM010", "*")]
        elif isinstance(stmt, ClusterStmt | LockStmt):
            rels = getattr(stmt, "relations", None) or [getattr(stmt, "relation", None)]
            out += [("SM010", _name(r)) for r in rels if r is not None]
        elif isinstance(stmt, RefreshMatViewStmt):
            if not stmt.concurrent and _name(stmt.relation) not in ctx.new_tables:
                out.append(("SM010", _name(stmt.relation)))
        elif isinstance(stmt, ReindexStmt):
            options = {o.defname for o in stmt.params or ()}
            if "concurrently" not in options:
                out.append(("SM010", _name(stmt.relation) or str(stmt.name)))
            elif ctx.atomic:
                out.append(("SM003", _name(stmt.relation)))
        return out

    def _alter_table(self, stmt: AlterTableStmt, ctx: Context) -> list[tuple[str, str]]:
        table = _name(stmt.relation)
        if stmt.objtype != enums.ObjectType.OBJECT_TABLE:
            return []
        existing = self.existing_big(table, ctx)
        out = []
        T = enums.AlterTableType
        C = enums.ConstrType
        for cmd in stmt.cmds:
            kind = cmd.subtype
            if kind == T.AT_AddColumn and table not in ctx.new_tables:
                column = cmd.def_
                for constraint in column.constraints or ():
                    volatile = constraint.contype == C.CONSTR_DEFAULT and (
                        _funcs(constraint.raw_expr) & VOLATILE_FUNCTIONS
                    )
                    if volatile or constraint.contype in (C.CONSTR_IDENTITY, C.CONSTR_GENERATED):
                        out.append(("SM004", table))
                type_name = column.typeName.names[-1].sval if column.typeName else ""
                if type_name in ("serial", "bigserial", "smallserial"):
                    out.append(("SM004", table))
            elif not existing:
                continue
            elif kind == T.AT_SetNotNull:
                out.append(("SM005", table))
            elif kind == T.AT_AlterColumnType:
                out.append(("SM006", table))
            elif kind == T.AT_AddConstraint:
                constraint = cmd.def_
                if constraint.contype == C.CONSTR_FOREIGN and not constraint.skip_validation:
                    out.append(("SM007", table))
                elif constraint.contype == C.CONSTR_CHECK and not constraint.skip_validation:
                    out.append(("SM008", table))
                elif (
                    constraint.contype in (C.CONSTR_UNIQUE, C.CONSTR_PRIMARY)
                    and not constraint.indexname
                ):
                    out.append(("SM009", table))
            elif kind in (T.AT_SetTableSpace, T.AT_SetLogged, T.AT_SetUnLogged):
                out.append(("SM010", table))
        return out

    # --- migrations --------------------------------------------------------------------------
    def lint_migration(self, migration, state: ProjectState) -> tuple[list[Finding], ProjectState]:
        """Findings of one migration applied on `state`; returns the state after it."""
        ctx = Context(atomic=migration.atomic)
        label = f"{migration.app_label}.{migration.name}"
        findings: list[Finding] = []
        connection = connections[self.using]
        for index, operation in enumerate(migration.operations):
            before = state.clone()
            operation.state_forwards(migration.app_label, state)
            if not operation.reduces_to_sql:
                continue  # RunPython: no SQL to read
            if isinstance(operation, NotInTransactionMixin):
                # AddIndexConcurrently refuses to render inside a transaction (a test's): only
                # SQL is collected here, nothing runs.
                operation = copy.copy(operation)
                operation._ensure_not_in_transaction = lambda schema_editor: None
            try:
                with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
                    operation.database_forwards(migration.app_label, editor, before, state)
                    sql = list(editor.collected_sql)
            except Exception as exc:  # a render that needs the database as it was then
                findings.append(
                    Finding(
                        label, index, operation.describe(), "SM011", "?", f"not rendered: {exc}"
                    )
                )
                continue
            for text in sql:
                try:
                    statements = parse_sql(text)
                except ParseError as exc:
                    findings.append(
                        Finding(
                            label, index, operation.describe(), "SM011", "?", f"{exc}: {text[:200]}"
                        )
                    )
                    continue
                for raw in statements:
                    for rule, table in self.check_statement(raw.stmt, ctx):
                        findings.append(
                            Finding(
                                label, index, operation.describe(), rule, table, text.strip()[:300]
                            )
                        )
        return findings, state


def _catalog_partitioned(using: str) -> set[str]:
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
            )
            return {row[0] for row in cursor.fetchall()}
    except Exception:  # no database: the migrations' own CREATE … PARTITION BY still count
        return set()


def _project_app(migration) -> bool:
    from django.apps import apps as django_apps

    wanted = linted_apps()
    if wanted is not None:
        return migration.app_label in wanted
    try:
        return django_apps.get_app_config(migration.app_label).name.startswith("apps.")
    except LookupError:
        return False


def lint_all(*, using: str = "default") -> list[Finding]:
    """Every project migration in dependency order; ignored findings carry their reason."""
    loader = MigrationLoader(connections[using], ignore_no_migrations=True)
    plan = []
    for leaf in loader.graph.leaf_nodes():
        for node in loader.graph.forwards_plan(leaf):
            if node not in plan:
                plan.append(node)
    linter = Linter(using=using)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    findings: list[Finding] = []
    used: set[tuple[str, str, str]] = set()
    for node in plan:
        migration = loader.graph.nodes[node]
        if not _project_app(migration):
            # Third-party migrations: state only (their tables are small and theirs to keep).
            for operation in migration.operations:
                operation.state_forwards(migration.app_label, state)
            continue
        found, state = linter.lint_migration(migration, state)
        for finding in found:
            reason = ignores.IGNORED.get((migration.app_label, migration.name), {}).get(
                finding.rule
            )
            if reason:
                used.add((migration.app_label, migration.name, finding.rule))
                finding = Finding(**{**finding.__dict__, "ignored": reason})
            findings.append(finding)
    for (app, name), rules in ignores.IGNORED.items():
        for rule in rules:
            if (app, name, rule) not in used:
                findings.append(
                    Finding(f"{app}.{name}", -1, "ignore list", "SM099", "-", f"ignores {rule}")
                )
    return findings
