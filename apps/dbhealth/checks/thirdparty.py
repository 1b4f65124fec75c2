"""Tables Flowbase does not own: Django's and its libraries' (auth_*, django_*, celery beat).
Their schema comes from those packages' migrations, so advice to change "the model" does not fit."""

from __future__ import annotations

# Table-name prefix → who owns it.
THIRD_PARTY_PREFIXES = {
    "django_celery_beat_": "django-celery-beat",
    "django_celery_results_": "django-celery-results",
    "django_": "Django",
    "auth_": "django.contrib.auth",
}


def third_party_owner(table: str) -> str:
    """The package that owns `table`, or '' when it is one of Flowbase's own."""
    for prefix, owner in THIRD_PARTY_PREFIXES.items():
        if table.startswith(prefix):
            return owner
    return ""


def third_party_note(table: str) -> str:
    owner = third_party_owner(table)
    if not owner:
        return ""
    return (
        f"third-party table ({owner}): its schema comes from {owner}'s migrations; a change made "
        "here is not in any Flowbase migration — apply it only as a deliberate, documented "
        "exception, or accept the finding"
    )
