"""Read-your-writes with a replica: a request that may write, and the same browser's requests for
REPLICA_PIN_SECONDS after it, read only from the primary (apps.pg.routing)."""

from __future__ import annotations

import math
import time

from django.conf import settings

from . import routing

PIN_COOKIE = "flowbase_primary_until"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _pinned_until(request) -> float:
    try:
        return float(request.COOKIES.get(PIN_COOKIE, 0))
    except ValueError:
        return 0.0


class PrimaryAfterWriteMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not routing.configured():
            return self.get_response(request)
        writes = request.method not in SAFE_METHODS
        with routing.pin_primary(writes or _pinned_until(request) > time.time()):
            response = self.get_response(request)
        if writes:
            # Long enough for the replica to have replayed this write before it is read there:
            # the lag allowed, plus the age of the probe that allowed it.
            seconds = float(settings.REPLICA_PIN_SECONDS)
            response.set_cookie(
                PIN_COOKIE,
                f"{time.time() + seconds:.0f}",
                max_age=math.ceil(seconds),
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response
