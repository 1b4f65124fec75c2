"""/healthz (process up) and /readyz (database, Redis, migrations, beat heartbeat) as JSON.

/healthz is public and says only "ok". /readyz answers every caller with its status code and
`status`; the per-check details only to trusted clients (apps.core.endpoint_access)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import endpoint_access

from . import conf, runner, selectors

_migrations_ok_until = 0.0


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> tuple[bool, str]:
    try:
        return runner.ping(), "ok"
    except Exception as exc:
        return False, str(exc).splitlines()[0][:200]


def _check_redis() -> tuple[bool, str]:
    try:
        cache.set("dbhealth:readyz", "1", 10)
        return cache.get("dbhealth:readyz") == "1", "ok"
    except Exception as exc:
        return False, str(exc).splitlines()[0][:200]


def _check_migrations() -> tuple[bool, str]:
    global _migrations_ok_until
    if time.monotonic() < _migrations_ok_until:
        return True, "ok"
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return False, str(exc).splitlines()[0][:200]
    if plan:
        return False, f"{len(plan)} unapplied: " + ", ".join(
            f"{m.app_label}.{m.name}" for m, _ in plan[:5]
        )
    _migrations_ok_until = time.monotonic() + 60  # positive result cached in-process
    return True, "ok"


def _check_beat() -> tuple[bool, str]:
    age = selectors.heartbeat_age_seconds()
    if age is None:
        return False, "no heartbeat recorded"
    limit = conf.get("HEARTBEAT_MAX_AGE_SECONDS")
    return age <= limit, f"{age:.0f} s old (limit {limit} s)"


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {}
    db_ok, db_detail = _check_database()
    checks["database"] = {"ok": db_ok, "detail": db_detail}
    redis_ok, redis_detail = _check_redis()
    checks["redis"] = {"ok": redis_ok, "detail": redis_detail}
    if db_ok:
        m_ok, m_detail = _check_migrations()
        b_ok, b_detail = _check_beat()
    else:
        m_ok, m_detail, b_ok, b_detail = False, "database down", False, "database down"
    checks["migrations"] = {"ok": m_ok, "detail": m_detail}
    checks["beat"] = {"ok": b_ok, "detail": b_detail}
    ready = all(c["ok"] for c in checks.values())
    body: dict = {"status": "ok" if ready else "unavailable"}
    if endpoint_access.trusted(request):  # details (errors, versions) only for the scraper
        body["checks"] = checks
    return JsonResponse(body, status=200 if ready else 503)
