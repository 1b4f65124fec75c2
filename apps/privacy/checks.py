"""Start-up checks of the privacy settings, and (tagged `database`) of the redaction functions."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.core.checks import Error, Tags, register
from django.db import connections, models

from . import conf

FUNCTIONS = ("flowbase_audit_redact", "flowbase_privacy_redact_jsonb", "flowbase_privacy_pattern")

FUNCTIONS_SQL = """
SELECT p.proname, pg_get_userbyid(p.proowner), p.prosecdef,
       coalesce(array_to_string(p.proconfig, ','), ''),
       has_function_privilege('public', p.oid, 'EXECUTE'),
       ARRAY(SELECT ro FROM unnest(%(roles)s::text[]) ro
             WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ro)
               AND has_function_privilege(ro, p.oid, 'EXECUTE'))
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname = ANY(%(names)s)
"""


@register()
def check_privacy_settings(app_configs=None, **kwargs) -> list[Error]:
    from .retention import PolicyError, rules

    errors = []
    for label, columns in conf.personal_json_keys().items():
        try:
            model = django_apps.get_model(label)
        except (LookupError, ValueError):
            errors.append(
                Error(f"PRIVACY_PERSONAL_JSON_KEYS: no model {label!r}", id="privacy.E001")
            )
            continue
        for name, keys in columns.items():
            try:
                field = model._meta.get_field(name)
            except Exception:
                errors.append(
                    Error(
                        f"PRIVACY_PERSONAL_JSON_KEYS[{label!r}]: no field {name!r}",
                        id="privacy.E002",
                    )
                )
                continue
            if not isinstance(field, models.JSONField):
                errors.append(
                    Error(
                        f"PRIVACY_PERSONAL_JSON_KEYS[{label!r}]: {name} is not a JSONField",
                        id="privacy.E002",
                    )
                )
            if not isinstance(keys, list | tuple) or not all(
                isinstance(k, str) and k for k in keys
            ):
                errors.append(
                    Error(
                        f"PRIVACY_PERSONAL_JSON_KEYS[{label!r}][{name!r}]: a list of key names",
                        id="privacy.E003",
                    )
                )
    for entry in conf.identifier_fields():
        label, _, name = entry.rpartition(".")
        try:
            django_apps.get_model(label)._meta.get_field(name)
        except Exception:
            errors.append(
                Error(f"PRIVACY_IDENTIFIER_FIELDS: no field {entry!r}", id="privacy.E004")
            )
    try:
        rules()
    except PolicyError as exc:
        errors.append(Error(str(exc), id="privacy.E010"))
    return errors


@register(Tags.database)
def check_redaction_functions(app_configs=None, databases=None, **kwargs) -> list[Error]:
    """Through the app's connection: the functions exist, the audit one is SECURITY DEFINER with
    a fixed search_path, all are the owner's, and no other Flowbase role (nor PUBLIC) may run them."""
    from apps.core.checks import _migrations_pending
    from apps.core.roles import config

    if "default" not in (databases or []) or _migrations_pending("default"):
        return []
    r = config.roles()
    with connections["default"].cursor() as cursor:
        cursor.execute(
            FUNCTIONS_SQL, {"roles": [r.app, r.readonly, r.monitor], "names": list(FUNCTIONS)}
        )
        found = {row[0]: row[1:] for row in cursor.fetchall()}
    errors = []
    for name in FUNCTIONS:
        if name not in found:
            errors.append(
                Error(f"function {name} is missing", hint="manage.py migrate", id="privacy.E020")
            )
            continue
        owner, secdef, settings_, public, executors = found[name]
        if (
            owner != r.owner
            or "search_path=" not in settings_
            or (name == "flowbase_audit_redact" and not secdef)
        ):
            errors.append(
                Error(
                    f"function {name} must be owned by {r.owner} with a fixed search_path"
                    + (" and be SECURITY DEFINER" if name == "flowbase_audit_redact" else ""),
                    id="privacy.E021",
                )
            )
        if public or executors:
            errors.append(
                Error(
                    f"function {name} is executable by {'PUBLIC ' if public else ''}{' '.join(executors)}:"
                    " only the owner may redact",
                    hint=f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC, …",
                    id="privacy.E022",
                )
            )
    return errors
