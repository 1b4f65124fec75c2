"""/metrics needs a bearer token or an allow-listed address when METRICS_REQUIRE_AUTH is on (the
prod settings); /readyz shows its details only to those; /healthz stays public and minimal."""

from __future__ import annotations

import pytest
from django.core import checks

from apps.core import endpoint_access

pytestmark = pytest.mark.django_db

TOKEN = "t0ken-" + "x" * 40


@pytest.fixture
def locked(settings):
    settings.METRICS_REQUIRE_AUTH = True
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16", "2001:db8::/32"]
    return settings


def test_prod_settings_require_auth():
    import importlib
    import os

    os.environ.setdefault("SECRET_KEY", "x" * 50)
    prod = importlib.import_module("dataplatform.settings.prod")
    assert prod.METRICS_REQUIRE_AUTH is True


def test_metrics_refuse_anonymous_clients(client, locked):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"django_http" not in response.content


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
        "Bearer ² " + TOKEN,
    ],
)
def test_metrics_refuse_wrong_tokens(client, locked, header):
    assert client.get("/metrics", HTTP_AUTHORIZATION=header).status_code == 401


def test_metrics_accept_the_token(client, locked):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and b"django_http_requests" in response.content
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"bearer  {TOKEN} ").status_code == 200


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("10.20.3.4", True),
        ("2001:db8::7", True),
        ("10.21.0.1", False),
        ("127.0.0.1", False),
        ("not-an-ip", False),
    ],
)
def test_metrics_allow_listed_addresses(client, locked, address, ok):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert (response.status_code == 200) is ok


def test_forwarded_for_is_not_trusted(client, locked):
    response = client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.20.0.1")
    assert response.status_code == 401


def test_without_a_token_the_refusal_is_403(client, locked):
    locked.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 403


def test_token_comparison_is_constant_time(monkeypatch, rf, locked):
    calls = []
    real = endpoint_access.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(endpoint_access.hmac, "compare_digest", spy)
    assert not endpoint_access.token_matches(rf.get("/", HTTP_AUTHORIZATION="Bearer nope"))
    assert calls == [(b"nope", TOKEN.encode())]


def test_readyz_details_only_for_trusted_clients(client, locked):
    anonymous = client.get("/readyz")
    assert set(anonymous.json()) == {"status"}
    trusted = client.get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert trusted.status_code == anonymous.status_code
    assert {"database", "redis", "migrations", "beat"} <= set(trusted.json()["checks"])


def test_healthz_is_public_and_minimal(client, locked):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_open_without_require_auth(client, settings):
    settings.METRICS_REQUIRE_AUTH = False
    assert client.get("/metrics").status_code == 200
    assert "checks" in client.get("/readyz").json()


def test_checks_flag_bad_settings(settings):
    from apps.core.checks import check_metrics_access, check_metrics_allowed_ips

    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/33"]
    endpoint_access._networks.cache_clear()
    assert [e.id for e in check_metrics_allowed_ips()] == ["flowbase.E010"]
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_REQUIRE_AUTH = True
    settings.METRICS_TOKEN = ""
    assert [w.id for w in check_metrics_access()] == ["flowbase.W011"]
    settings.METRICS_TOKEN = "short"
    assert [w.id for w in check_metrics_access()] == ["flowbase.W012"]
    settings.METRICS_REQUIRE_AUTH = False
    assert [w.id for w in check_metrics_access()] == ["flowbase.W010"]
    assert all(isinstance(w, checks.Warning) for w in check_metrics_access())
