"""Row scope: which projects' rows the current transaction may see, told to PostgreSQL.

Row-level security policies on the project-bound tables read `flowbase.project_ids`, a
per-transaction setting; with none set they show no row (fail closed). Work that may see every
row (jobs, commands, operators) switches the transaction to a NOLOGIN role with BYPASSRLS
instead of widening the setting: a policy that always holds still keeps the planner from using
an index for an operator that is not leakproof (ILIKE, trigram `%`, full-text `@@`).

Every statement sent on a scoped alias passes `apply_scope` (a connection execute wrapper): at
the start of each transaction, and whenever the scope changes inside one, it sends
`SET LOCAL ROLE …` and `set_config(…, true)` first. Both are transaction-local, so a pooled
server connection (PgBouncer, transaction mode) never carries a scope into another client's
transaction. A statement sent in autocommit mode gets its own BEGIN … COMMIT around it.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from psycopg import pq

from .sql import quote

# One setting per kind of access the policies check: reading, adding/changing, deleting.
SETTINGS = {
    "view": "flowbase.project_ids",
    "write": "flowbase.write_project_ids",
    "delete": "flowbase.delete_project_ids",
}


@dataclass(frozen=True)
class RowScope:
    """`ids` None: every row (the bypass role); otherwise the projects whose rows it reads,
    and among them those it may add to and change (`writes`) and delete from (`deletes`)."""

    ids: frozenset[int] | None
    writes: frozenset[int] = frozenset()
    deletes: frozenset[int] = frozenset()

    @property
    def everything(self) -> bool:
        return self.ids is None

    @classmethod
    def of(cls, ids: Iterable[int], *, writes=None, deletes=None) -> RowScope:
        """Read, write and delete in `ids` unless narrower `writes`/`deletes` are given."""
        seen = frozenset(int(i) for i in ids)
        writes = seen if writes is None else frozenset(int(i) for i in writes) & seen
        deletes = writes if deletes is None else frozenset(int(i) for i in deletes) & writes
        return cls(seen, writes, deletes)

    def settings(self) -> dict[str, str]:
        """Setting -> PostgreSQL bigint[] literal (ids are ints: nothing to quote)."""
        sets = {"view": self.ids or (), "write": self.writes, "delete": self.deletes}
        return {
            SETTINGS[kind]: "{" + ",".join(str(i) for i in sorted(ids)) + "}"
            for kind, ids in sets.items()
        }


EVERY_ROW = RowScope(None)
NO_ROWS = RowScope(frozenset())

# Fail closed: a process sees every row only if its entry point says so (manage.py, the Celery
# app, the test suite); the web server's processes keep this.
_process_default: list[RowScope] = [NO_ROWS]
_current: contextvars.ContextVar[RowScope | None] = contextvars.ContextVar(
    "flowbase_row_scope", default=None
)


def current() -> RowScope:
    scope = _current.get()
    return _process_default[0] if scope is None else scope


def set_process_default(scope: RowScope) -> None:
    """The scope outside any request: entry points of jobs and commands set EVERY_ROW; the web
    server's stay at NO_ROWS, so a statement that escapes a request's scope sees nothing."""
    _process_default[0] = scope


def activate(scope: RowScope | None) -> None:
    """Set the scope of this thread/task until the next call (None: the process default)."""
    _current.set(scope)


@contextlib.contextmanager
def bound(scope: RowScope) -> Iterator[RowScope]:
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def _config() -> dict:
    return getattr(settings, "ROW_SCOPE", {})


# Other per-transaction settings sent with the scope (the audit log's actor and request id):
# callables returning {setting: value}, registered by the apps that read them.
_settings_providers: list = []


def add_transaction_settings(provider) -> None:
    if provider not in _settings_providers:
        _settings_providers.append(provider)


def _extra_settings() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kv for provider in _settings_providers for kv in provider().items()))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"  # standard_conforming_strings: only quotes


def scope_sql(scope: RowScope, extra: tuple[tuple[str, str], ...] = ()) -> str:
    """The statements that put a transaction in `scope` (no parameters: one round trip)."""
    values = dict(extra)
    if scope.everything:
        role = "SET LOCAL ROLE " + quote(_config()["BYPASS_ROLE"])
    else:
        role = "SET LOCAL ROLE NONE"
        values.update(scope.settings())
    if not values:
        return role
    sets = ", ".join(
        f"set_config({_literal(name)}, {_literal(value)}, true)" for name, value in values.items()
    )
    return f"{role}; SELECT {sets}"


_SENT = "_flowbase_row_scope_sent"


def ensure_applied(connection) -> None:
    """Send the scope if this transaction has not got it yet (inside a transaction only): for
    code that talks to psycopg directly (COPY), bypassing the execute wrapper. Never on a login
    the wrapper leaves alone (see `install`): the owner's COPY ran in the app's scope."""
    raw = connection.connection
    if not getattr(connection, _SCOPED, False) or raw is None:
        return
    if raw.info.transaction_status not in (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS):
        return
    if raw.info.transaction_status == pq.TransactionStatus.IDLE:
        if connection.get_autocommit():
            return
        setattr(connection, _SENT, None)
    wanted = (current(), _extra_settings())
    if getattr(connection, _SENT, None) != wanted:
        with connection.wrap_database_errors:
            raw.execute(scope_sql(*wanted))
        setattr(connection, _SENT, wanted)


# Statements sent as they are in autocommit mode: transaction control (a BEGIN opens the
# transaction the scope then goes into) and what PostgreSQL refuses inside a transaction block.
_LEADING_COMMENTS = r"(\s|--[^\n]*\n|/\*.*?\*/)*"
_OWN_TRANSACTION = re.compile(
    _LEADING_COMMENTS
    + r"(BEGIN|START|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION|VACUUM"
    r"|DISCARD|CLUSTER|(CREATE|ALTER|DROP)\s+SUBSCRIPTION"
    r"|REINDEX|CHECKPOINT|(CREATE|DROP)\s+(DATABASE|TABLESPACE)|(CREATE|DROP)\s+INDEX\s+CONCURRENTLY"
    r"|ALTER\s+SYSTEM)\b",
    re.IGNORECASE | re.DOTALL,
)
_OPENS = re.compile(_LEADING_COMMENTS + r"(BEGIN|START)\b", re.IGNORECASE | re.DOTALL)


def apply_scope(execute, sql, params, many, context):
    connection = context["connection"]
    if not getattr(connection, _SCOPED, False):
        return execute(sql, params, many, context)
    raw = connection.connection
    status = raw.info.transaction_status
    if status == pq.TransactionStatus.IDLE and _OWN_TRANSACTION.match(sql):
        setattr(connection, _SENT, None)
        result = execute(sql, params, many, context)
        if _OPENS.match(sql):
            ensure_applied(connection)
        return result
    if status == pq.TransactionStatus.IDLE and connection.get_autocommit():
        setattr(connection, _SENT, None)
        with connection.wrap_database_errors:
            raw.execute("BEGIN; " + scope_sql(current(), _extra_settings()))
        try:
            result = execute(sql, params, many, context)
        except BaseException:
            if raw.info.transaction_status != pq.TransactionStatus.IDLE:
                raw.execute("ROLLBACK")
            raise
        with connection.wrap_database_errors:  # deferred checks fire here, as Django errors
            raw.execute("COMMIT")
        return result
    ensure_applied(connection)
    result = execute(sql, params, many, context)
    if sql.lstrip()[:20].upper().startswith("ROLLBACK TO"):
        setattr(connection, _SENT, None)  # a savepoint rollback may have undone a SET LOCAL
    return result


def scoped_aliases() -> tuple[str, ...]:
    return tuple(_config().get("DATABASES", ()))


_SCOPED = "_flowbase_row_scoped"


def install(connection, **_kwargs) -> None:
    """connection_created receiver: wrap the app's connections (once per connection object).
    Only a login that may enter the bypass role is scoped: the owner (migrations, the test
    database's set-up) owns the tables and is not subject to their policies anyway."""
    if connection.alias not in scoped_aliases():
        return
    if apply_scope not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, apply_scope)
    with connection.wrap_database_errors:
        row = connection.connection.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = %s"
            " AND pg_has_role(session_user, r.oid, 'MEMBER'))",
            [_config()["BYPASS_ROLE"]],
        ).fetchone()
    setattr(connection, _SCOPED, bool(row and row[0]))
