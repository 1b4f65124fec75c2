"""The ops jobs' settings, each with its default."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def lock_timeout() -> str:
    """The lock_timeout every job's DDL and maintenance statement runs under."""
    return setting("OPS_LOCK_TIMEOUT", "5s")
