"""`migrate` runs as the owner, never as the app (or the read-only / monitor logins)."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import connections

from . import config


def refuse_migrate_unless_owner(sender, using: str = "default", **kwargs) -> None:
    r = config.roles()
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user")
        current = cursor.fetchone()[0]
    if current in (r.app, r.readonly, r.monitor, r.all_projects):
        raise CommandError(
            f"migrate must run as the owner role {r.owner}, not as {current}: "
            "`python manage.py migrate --database owner` (MIGRATE_DATABASE_URL)"
        )
