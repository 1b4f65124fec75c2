"""The privacy settings, with their defaults (dataplatform/settings/base.py sets them)."""

from __future__ import annotations

from django.conf import settings

# Tables the erasure never rewrites, with the reason. Their columns are still searched by the
# verification: a match there fails the erasure instead of being silently left behind.
DEFAULT_SKIP_TABLES: dict[str, str] = {
    "django_migrations": "schema history: migration names, not people",
    "django_content_type": "model registry: app labels and model names",
    "auth_permission": "permission code names",
    "auth_group": "role names (the person's memberships are removed with the account)",
    "django_celery_beat_*": "job definitions: task paths, cron fields, schedules",
    "dbhealth_indexusagesnapshot": "catalog identifiers (schema, table and index names)",
    "auth_user": "the account row is pseudonymised field by field (--user), never swept",
    "django_session": "signed session data: the person's sessions are deleted (--user)",
}

# Column names that hold a person's identifier as their whole value (derived from the models:
# CharField/EmailField whose name is one of these, or ends in `_by`).
IDENTIFIER_FIELD_NAMES = frozenset(
    {
        "assignee",
        "assigned_to",
        "author",
        "owner",
        "reporter",
        "reviewer",
        "email",
        "e_mail",
        "username",
        "user_name",
        "contact",
    }
)


def setting(name: str, default):
    return getattr(settings, name, default)


def skip_tables() -> dict[str, str]:
    return {**DEFAULT_SKIP_TABLES, **setting("PRIVACY_SKIP_TABLES", {})}


def personal_json_keys() -> dict[str, dict[str, list[str]]]:
    """{"app.Model": {"json_field": ["key", ...]}}: keys whose values identify a person."""
    return setting("PRIVACY_PERSONAL_JSON_KEYS", {})


def identifier_fields() -> list[str]:
    """Extra "app.Model.field" identifier columns the name rule does not find."""
    return list(setting("PRIVACY_IDENTIFIER_FIELDS", []))


def min_identifier_length() -> int:
    return max(3, int(setting("PRIVACY_MIN_IDENTIFIER_LENGTH", 3)))


def pseudonym_secret() -> str:
    return setting("PRIVACY_PSEUDONYM_KEY", "") or settings.SECRET_KEY


def lock_timeout() -> str:
    return setting("PRIVACY_LOCK_TIMEOUT", "5s")


def batch_rows() -> int:
    return int(setting("PRIVACY_BATCH_ROWS", 200_000))


def retention_days() -> dict[str, int | dict]:
    return setting("PRIVACY_RETENTION_DAYS", {})


def retention_batch_size() -> int:
    return int(setting("PRIVACY_RETENTION_BATCH_SIZE", 5000))
