"""`manage.py check --database default` fails when a trigger declared in code is missing,
outdated or disabled in the database (pgtrigger's own `ls` only compares a hash comment), or when
the database roles are unsafe (the app is a superuser, can run DDL, grants drifted).
The metrics settings are checked too: malformed CIDRs always, weak or missing access in a
deploy check (`check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
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


@register(Tags.security)
def check_metrics_allowed_ips(app_configs=None, **kwargs) -> list[Error]:
    from .endpoint_access import allowed_networks

    try:
        allowed_networks()
    except ValueError as exc:
        return [
            Error(
                f"METRICS_ALLOWED_IPS is not a list of addresses or CIDRs: {exc}",
                hint="e.g. METRICS_ALLOWED_IPS=10.0.0.0/8,192.168.1.7",
                id="flowbase.E010",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_metrics_access(app_configs=None, **kwargs) -> list[Warning]:
    from .endpoint_access import MIN_TOKEN_LENGTH

    token = getattr(settings, "METRICS_TOKEN", "") or ""
    allowed = getattr(settings, "METRICS_ALLOWED_IPS", ()) or ()
    if not getattr(settings, "METRICS_REQUIRE_AUTH", False):
        return [
            Warning(
                "/metrics and the details of /readyz are open to every client.",
                hint="Use the prod settings (METRICS_REQUIRE_AUTH) with METRICS_TOKEN or METRICS_ALLOWED_IPS.",
                id="flowbase.W010",
            )
        ]
    warnings = []
    if not token and not allowed:
        warnings.append(
            Warning(
                "Neither METRICS_TOKEN nor METRICS_ALLOWED_IPS is set: nobody can scrape /metrics.",
                id="flowbase.W011",
            )
        )
    if token and len(token) < MIN_TOKEN_LENGTH:
        warnings.append(
            Warning(
                f"METRICS_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                id="flowbase.W012",
            )
        )
    return warnings
