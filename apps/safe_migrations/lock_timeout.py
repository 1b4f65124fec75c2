"""Every migrate session waits for a lock at most MIGRATION_LOCK_TIMEOUT (e.g. "5s").

A migration's ALTER TABLE queues behind any long transaction on that table, and every query
that arrives after it queues behind the migration: with a lock timeout the migration gives up
after seconds (and can be retried) instead of stopping the application. Set per session in
pre_migrate, so it covers atomic and non-atomic migrations alike (`manage.py migrate` and the
test database set-up)."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from apps.pg.sql import behind_pgbouncer

_VALUE = re.compile(r"^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$")


def migration_lock_timeout() -> str:
    value = str(getattr(settings, "MIGRATION_LOCK_TIMEOUT", "5s")).strip()
    if not _VALUE.match(value):
        raise ValueError(f"MIGRATION_LOCK_TIMEOUT={value!r}: a PostgreSQL duration like '5s'")
    return value


def set_migration_lock_timeout(sender, using: str = "default", **kwargs) -> None:
    """On the migrating connection, and on `default` too: a data migration that writes through
    the default alias while its own migration holds a lock on the table would otherwise wait
    for ever (the migration's transaction waits for it); now it fails after the timeout."""
    timeout = migration_lock_timeout()
    for alias in dict.fromkeys([using, DEFAULT_DB_ALIAS]):
        # Not through PgBouncer: a session setting would stay on a server connection other
        # clients get next (there, data migrations write on the migrating connection anyway).
        if alias in connections.settings and not behind_pgbouncer(alias):
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, false)", [timeout])
