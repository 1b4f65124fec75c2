"""What the toolkit needs from the project, named in settings rather than imported (the floor
imports no Flowbase app): which login runs partition DDL, and how a new or detached partition
gets the roles' grants.

    PG_PARTITION_DDL_ALIAS = "apps.core.roles.config.owner_alias"        # () -> alias
    PG_PARTITION_GRANTS_SYNC = "apps.core.roles.services.relation_grants_sync"
                                                   # (*, schema, name, using) -> None
Unset: DDL on `default`, no grants (a project with a single login).
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.utils.module_loading import import_string


def ddl_alias() -> str:
    path = getattr(settings, "PG_PARTITION_DDL_ALIAS", None)
    return import_string(path)() if path else DEFAULT_DB_ALIAS


def grants_sync(*, schema: str, name: str, using: str) -> None:
    path = getattr(settings, "PG_PARTITION_GRANTS_SYNC", None)
    if path:
        import_string(path)(schema=schema, name=name, using=using)
