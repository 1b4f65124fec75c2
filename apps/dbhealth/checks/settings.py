"""Server settings and extensions the Database section relies on."""

from __future__ import annotations

from . import queries
from .base import FindingCandidate, finding


def extension_findings(status: dict | None = None) -> list[FindingCandidate]:
    status = status or queries.pg_stat_statements_status()
    if status["available"]:
        return []
    missing = []
    if not status["preloaded"]:
        missing.append("add pg_stat_statements to shared_preload_libraries and restart")
    if not status["installed"]:
        missing.append("CREATE EXTENSION pg_stat_statements;")
    return [
        finding(
            "settings",
            "pg_stat_statements",
            "pg_stat_statements is not available: the Slow queries page is empty",
            key="settings.pg_stat_statements_missing",
            evidence=status,
            fix="\n".join(missing),
        )
    ]
