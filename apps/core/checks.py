"""`manage.py check --database default` fails when a trigger declared in code is missing,
outdated or disabled in the database (pgtrigger's own `ls` only compares a hash comment), or when
the database roles are unsafe (the app is a superuser, can run DDL, grants drifted)."""

from django.core.checks import Error, Tags, register
from django.db import connections
from django.db.migrations.executor import MigrationExecutor


@register(Tags.database)
def check_triggers_installed(app_configs=None, databases=None, **kwargs) -> list[Error]:
    import pgtrigger
    from pgtrigger.core import INSTALLED

    errors: list[Error] = []
    for alias in databases or []:
        connection = connections[alias]
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            continue  # pending migrations install their triggers; checked once applied
        for model, trigger in pgtrigger.registered():
            if model._meta.proxy or not model._meta.managed:
                continue
            status, enabled = trigger.get_installation_status(model, database=alias)
            if status != INSTALLED or not enabled:
                errors.append(
                    Error(
                        f"Trigger {trigger.get_uri(model)} is {status.lower()}"
                        f"{'' if enabled or status != INSTALLED else ' but disabled'} "
                        f"in database {alias!r}.",
                        hint="Run `manage.py migrate`, or `manage.py pgtrigger install` to repair.",
                        id="flowbase.E001",
                    )
                )
    return errors


def _migrations_pending(alias: str) -> bool:
    executor = MigrationExecutor(connections[alias])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


@register(Tags.database)
def check_database_roles(app_configs=None, databases=None, **kwargs) -> list[Error]:
    """Only through the app's own connection (`default`): `migrate --database owner` runs the
    database checks on the owner's alias, which is allowed to own everything."""
    from apps.core.roles import inspect

    if "default" not in (databases or []) or _migrations_pending("default"):
        return []
    return [Error(p.message, hint=p.hint or None, id=p.id) for p in inspect.problems("default")]
