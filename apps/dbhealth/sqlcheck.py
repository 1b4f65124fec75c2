"""Custom SQL of data-quality checks: one plain SELECT / WITH / VALUES, checked by parsing it
(pglast, PostgreSQL's own parser) — never by searching the text for `;`.

This is the first fence; the second is that every check runs as the read-only role in a READ ONLY
transaction (apps/dbhealth/runner.py), which holds even for SQL that slipped past this one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pglast
from pglast import ast

from apps.core.roles import config as roles_config

# Functions a failing-rows query never needs: server files, signals, configuration, statistics
# resets, session state that outlives the check (advisory locks, settings), SQL run from a string.
DENIED_FUNCTIONS = frozenset(
    {
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_stat_statements_reset",
        "set_config",
        "pg_notify",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "query_to_xmlschema",
        "table_to_xml",
        "cursor_to_xml",
        "database_to_xml",
        "schema_to_xml",
        "txid_current",
        "pg_current_xact_id",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_log_backend_memory_contexts",
    }
)
DENIED_PREFIXES = (
    "pg_ls_",
    "pg_read_",
    "pg_stat_reset",
    "pg_advisory",
    "pg_try_advisory",
    "lo_",
    "dblink",
)
DENIED_CATALOG_TABLES = frozenset({"pg_authid", "pg_shadow", "pg_user_mapping", "pg_statistic"})


class UnsafeSQL(ValueError):
    pass


def _walk(node) -> Iterator[ast.Node]:
    if isinstance(node, ast.Node):
        yield node
        for name in node:
            yield from _walk(getattr(node, name))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item)


def _function_name(call: ast.FuncCall) -> str:
    parts = [getattr(p, "sval", "") for p in call.funcname or ()]
    return (parts[-1] if parts else "").lower()


def validate_select(query: str) -> str:
    """The query without its trailing `;`, or UnsafeSQL with a message for the form/result."""
    body = (query or "").strip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    if not body:
        raise UnsafeSQL("custom SQL is empty")
    try:
        statements = pglast.parse_sql(body)
    except pglast.parser.ParseError as exc:
        raise UnsafeSQL(f"custom SQL does not parse: {exc}") from None
    if len(statements) != 1:
        raise UnsafeSQL("custom SQL must be a single statement")
    statement = statements[0].stmt
    if not isinstance(statement, ast.SelectStmt):
        raise UnsafeSQL("custom SQL must be a SELECT returning the failing rows")
    for node in _walk(statement):
        if isinstance(node, ast.CommonTableExpr) and not isinstance(node.ctequery, ast.SelectStmt):
            raise UnsafeSQL("data-modifying statements in WITH are not allowed")
        if isinstance(node, ast.SelectStmt):
            if node.intoClause is not None:
                raise UnsafeSQL("SELECT … INTO is not allowed")
            if node.lockingClause:
                raise UnsafeSQL("FOR UPDATE / FOR SHARE is not allowed")
        if isinstance(node, ast.FuncCall):
            name = _function_name(node)
            if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
                raise UnsafeSQL(f"function {name}() is not allowed in a data-quality check")
        if isinstance(node, ast.RangeVar):
            name = (node.relname or "").lower()
            if roles_config.is_sensitive(name) or name in DENIED_CATALOG_TABLES:
                raise UnsafeSQL(f"table {name} is sensitive: data-quality checks may not read it")
    return body
