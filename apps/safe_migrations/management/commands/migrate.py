"""Django's migrate, with a clear message when a migration gives up on a lock.

The lock timeout itself is set by the pre_migrate signal (apps/safe_migrations/lock_timeout.py);
this command only names the migration that timed out and says what to do."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DatabaseError

from apps.pg.errors import sqlstate
from apps.safe_migrations.lock_timeout import migration_lock_timeout

LOCK_NOT_AVAILABLE = "55P03"


class Command(DjangoMigrate):
    help = (
        DjangoMigrate.help
        + " Every migration waits at most MIGRATION_LOCK_TIMEOUT for a lock, then stops."
    )

    current_migration = None

    def migration_progress_callback(self, action, migration=None, fake=False):
        if action in ("apply_start", "unapply_start"):
            self.current_migration = migration
        return super().migration_progress_callback(action, migration, fake)

    def handle(self, *args, **options):
        try:
            return super().handle(*args, **options)
        except DatabaseError as exc:
            if sqlstate(exc) != LOCK_NOT_AVAILABLE:
                raise
            migration = self.current_migration
            atomic = getattr(migration, "atomic", True)
            raise CommandError(
                f"migration {migration or '(unknown)'} stopped: it waited {migration_lock_timeout()}"
                " (MIGRATION_LOCK_TIMEOUT) for a lock that another session holds on a table it"
                " changes, typically a long or idle-in-transaction session. "
                + (
                    "Nothing of this migration was applied. "
                    if atomic
                    else "It is not atomic: statements before the one that timed out stayed "
                    "applied, and it is written to be re-run. "
                )
                + "Find the holder (Database > Locks and Activity in the admin, or pg_locks), "
                "let it finish or end it, then run migrate again."
            ) from exc
