"""Who may read the operational endpoints' details (/metrics, the details of /readyz).

With `METRICS_REQUIRE_AUTH` (on in the prod settings) a client is trusted when it sends
`Authorization: Bearer <METRICS_TOKEN>` (compared in constant time) or connects from an address
inside one of `METRICS_ALLOWED_IPS` (CIDRs). The address is REMOTE_ADDR: X-Forwarded-For is
written by the client and is never consulted. Without the setting (dev, test) everyone is.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

# Shorter tokens are refused by the deploy check (apps.core.checks).
MIN_TOKEN_LENGTH = 32


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def allowed_networks():
    return _networks(tuple(getattr(settings, "METRICS_ALLOWED_IPS", ()) or ()))


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def token_matches(request: HttpRequest) -> bool:
    expected = getattr(settings, "METRICS_TOKEN", "") or ""
    provided = _bearer(request)
    if not expected or provided is None:
        return False
    return hmac.compare_digest(
        provided.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def address_allowed(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in allowed_networks())


def trusted(request: HttpRequest) -> bool:
    if not getattr(settings, "METRICS_REQUIRE_AUTH", False):
        return True
    return token_matches(request) or address_allowed(request)


def refusal(request: HttpRequest) -> HttpResponse:
    if getattr(settings, "METRICS_TOKEN", ""):
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="flowbase-metrics"'
        return response
    return HttpResponseForbidden("forbidden\n", content_type="text/plain")


def metrics_view(request: HttpRequest) -> HttpResponse:
    """django-prometheus' exporter behind the token / allow-list."""
    from django_prometheus.exports import ExportToDjangoView

    if not trusted(request):
        return refusal(request)
    return ExportToDjangoView(request)
