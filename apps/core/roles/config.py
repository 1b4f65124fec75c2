"""Role names, connection aliases and the table lists the grants are derived from."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS

OWNER_ALIAS = "owner"
READONLY_ALIAS = "readonly"
MONITOR_ALIAS = "monitor"

# Schemas the owner manages: everything in them is owned by the owner and granted from here.
MANAGED_SCHEMAS = ("public", "archive")
# Extensions the migrations and the Database section need; created by the bootstrap step as
# a superuser (CREATE EXTENSION pg_stat_statements needs one; the others are trusted).
# rum: the knowledge-base search benchmark's alternative index (docs/knowledge.md).
EXTENSIONS = ("pg_stat_statements", "pg_trgm", "btree_gin", "hstore", "rum")
# Created when the server has them, skipped otherwise (their feature then says it is off).
# hypopg: hypothetical indexes for the Database section's suggested indexes (docs/dbhealth.md).
OPTIONAL_EXTENSIONS = ("hypopg",)
# Tables the app may only append to (the audit log): no UPDATE/DELETE even on its partitions,
# so `pgtrigger.ignore` of the append-only guard cannot be used to rewrite history.
APPEND_ONLY_TABLES = ("audit_auditevent",)
# Roles no Flowbase login other than the owner / monitor should ever be a member of.
DANGEROUS_ROLES = (
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_signal_backend",
    "pg_monitor",
    "pg_read_all_stats",
    "pg_read_all_settings",
    "pg_stat_scan_tables",
    "pg_checkpoint",
)
SIGNAL_FUNCTION = "flowbase_signal_backend"
DEFAULT_ROWS_FUNCTION = "flowbase_default_partition_rows"


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str
    readonly: str
    monitor: str
    signal: str
    all_projects: str

    def all(self) -> tuple[str, ...]:
        return (self.owner, self.app, self.readonly, self.monitor, self.signal, self.all_projects)

    def app_like(self) -> tuple[str, ...]:
        """The app login and the role it switches to for unscoped work: the same grants."""
        return (self.app, self.all_projects)

    def granted(self) -> tuple[str, ...]:
        """Every role whose privileges on relations are derived and checked here."""
        return (self.app, self.all_projects, self.readonly, self.monitor)

    def logins(self) -> tuple[str, ...]:
        return (self.owner, self.app, self.readonly, self.monitor)


def roles() -> Roles:
    names = getattr(settings, "FLOWBASE_DB_ROLES", {})
    return Roles(
        owner=names.get("OWNER", "flowbase_owner"),
        app=names.get("APP", "flowbase_app"),
        readonly=names.get("READONLY", "flowbase_readonly"),
        monitor=names.get("MONITOR", "flowbase_monitor"),
        signal=names.get("SIGNAL", "flowbase_signal"),
        all_projects=names.get("ALL_PROJECTS", "flowbase_all_projects"),
    )


def sensitive_patterns() -> list[str]:
    return list(getattr(settings, "FLOWBASE_SENSITIVE_TABLES", []))


def is_sensitive(name: str) -> bool:
    """True for a table name (without schema) matching a sensitive pattern."""
    return any(fnmatch.fnmatchcase(name, p) for p in sensitive_patterns())


def readonly_prefixes() -> tuple[str, ...]:
    return tuple(f"{label}_" for label in getattr(settings, "FLOWBASE_READONLY_APPS", []))


def readonly_may_read(name: str, kind: str) -> bool:
    """Whether the read-only role gets SELECT on a (non-partition) relation of a managed schema:
    domain apps' tables and views, and the materialized views; never a sensitive name."""
    if is_sensitive(name):
        return False
    return kind == "m" or name.startswith(readonly_prefixes())


def _configured(alias: str) -> bool:
    return alias in settings.DATABASES


def owner_alias() -> str:
    """The connection acting as the owner (migrations and maintenance jobs only)."""
    if not _configured(OWNER_ALIAS):
        raise ImproperlyConfigured(
            "this process has no owner connection: maintenance jobs need MAINTENANCE_DATABASE_URL "
            "or MIGRATE_DATABASE_URL (run them on the maintenance worker)"
        )
    return OWNER_ALIAS


def readonly_alias() -> str:
    """The sandbox of data-quality checks; never falls back to a more privileged login."""
    if not _configured(READONLY_ALIAS):
        raise ImproperlyConfigured("no read-only connection: set READONLY_DATABASE_URL")
    return READONLY_ALIAS


def monitor_alias() -> str:
    """Catalog and statistics reads; without a monitor login the app's own (which sees less)."""
    return MONITOR_ALIAS if _configured(MONITOR_ALIAS) else DEFAULT_DB_ALIAS
