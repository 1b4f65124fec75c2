"""The read router (apps.pg.routing): which reads go to the replica, and when they do not.

Without a standby the `replica` alias mirrors `default`, so these tests drive the router's
decisions with a stubbed probe; tests/pg/test_replica_standby.py runs against a real standby.
"""

import time

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from apps.ops.models import Heartbeat, WorkflowSummary
from apps.pg import middleware, routing

REPLICA = routing.REPLICA


@pytest.fixture
def replica_on(settings, monkeypatch):
    """A configured replica whose probe says what `probe` holds (lag 0.5 s by default)."""
    settings.REPLICA_ENABLED = True
    settings.REPLICA_MAX_LAG_SECONDS = 5
    settings.REPLICA_CHECK_SECONDS = 60
    probe = {"state": ("ok", True, 0.5), "calls": 0}

    def fake_probe():
        probe["calls"] += 1
        reason, usable, lag = probe["state"]
        return routing.ReplicaState(usable, reason, lag, time.time())

    monkeypatch.setattr(routing, "_probe", fake_probe)
    routing.reset()
    yield probe
    routing.reset()


def routed_db(model=Heartbeat, *allowed):
    return routing.on_replica(lambda: model.objects.all().db, *(allowed or (model,)))


def test_without_a_replica_every_read_is_the_primarys(settings):
    settings.REPLICA_ENABLED = False
    routing.reset()
    assert routed_db() == DEFAULT_DB_ALIAS
    decision = routing.decision()
    assert decision["configured"] is False and decision["target"] == DEFAULT_DB_ALIAS
    assert "REPLICA_DATABASE_URL" in decision["reason"]


def test_only_the_named_models_inside_the_scope_go_to_the_replica(replica_on, monkeypatch):
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "in_atomic_block", False)
    assert routed_db() == REPLICA
    assert routed_db(WorkflowSummary, Heartbeat) == DEFAULT_DB_ALIAS  # not named
    assert Heartbeat.objects.all().db == DEFAULT_DB_ALIAS  # outside any scope
    assert replica_on["calls"] == 1  # the probe is cached for REPLICA_CHECK_SECONDS


@pytest.mark.parametrize(
    "probe",
    [
        ("replay lag 7.0 s over 5 s", False, 7.0),
        ("not a standby (promoted?): it no longer follows", False, None),
        ("unreachable: connection refused", False, None),
    ],
)
def test_a_lagging_promoted_or_missing_replica_leaves_reads_on_the_primary(
    replica_on, monkeypatch, probe
):
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "in_atomic_block", False)
    replica_on["state"] = probe
    assert routed_db() == DEFAULT_DB_ALIAS
    assert routing.decision()["reason"] == probe[0]


@pytest.mark.django_db
def test_inside_a_transaction_reads_stay_on_the_primary(replica_on):
    with transaction.atomic():
        assert routed_db() == DEFAULT_DB_ALIAS


def test_a_pinned_request_reads_the_primary(replica_on, monkeypatch):
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "in_atomic_block", False)
    with routing.pin_primary():
        assert routed_db() == DEFAULT_DB_ALIAS
    assert routed_db() == REPLICA


def test_a_row_read_on_the_replica_is_saved_on_the_primary():
    row = Heartbeat(name="x")
    row._state.db = REPLICA
    assert routing.ReplicaRouter().db_for_write(Heartbeat, instance=row) == DEFAULT_DB_ALIAS
    assert routing.ReplicaRouter().allow_migrate(REPLICA, "ops") is False


def _through_middleware(request):
    seen = {}

    def view(req):
        seen["pinned"] = routing.pinned()
        return HttpResponse("ok")

    response = middleware.PrimaryAfterWriteMiddleware(view)(request)
    return seen["pinned"], response


def test_a_write_pins_the_browser_to_the_primary_for_a_while(replica_on, settings):
    settings.REPLICA_PIN_SECONDS = 8
    factory = RequestFactory()
    pinned, response = _through_middleware(factory.post("/admin/x/"))
    cookie = response.cookies[middleware.PIN_COOKIE]
    assert pinned and cookie["max-age"] == 8 and cookie["httponly"]
    assert 7 <= float(cookie.value) - time.time() <= 9
    pinned, response = _through_middleware(factory.get("/admin/x/"))
    assert not pinned and middleware.PIN_COOKIE not in response.cookies
    later = factory.get("/admin/x/")
    later.COOKIES[middleware.PIN_COOKIE] = cookie.value
    assert _through_middleware(later)[0]  # the next page after the write
    expired = factory.get("/admin/x/")
    expired.COOKIES[middleware.PIN_COOKIE] = str(time.time() - 1)
    assert not _through_middleware(expired)[0]
    junk = factory.get("/admin/x/")
    junk.COOKIES[middleware.PIN_COOKIE] = "nan-or-junk"
    assert not _through_middleware(junk)[0]


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_a_query_failing_on_the_replica_runs_again_on_the_primary(replica_on, settings):
    """The replica vanished between probe and query: the caller gets the primary's answer."""
    Heartbeat.objects.create(name="primary-row", beat_at=timezone.now())
    replica = connections[REPLICA]
    replica.close()
    saved_port = replica.settings_dict["PORT"]
    replica.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        names = routing.on_replica(
            lambda: list(Heartbeat.objects.values_list("name", flat=True)), Heartbeat
        )
    finally:
        replica.close()
        replica.settings_dict["PORT"] = saved_port
    assert names == ["primary-row"]
    assert not routing.state().usable and "query failed" in routing.state().reason
    with pytest.raises(OperationalError):  # a failure of the primary itself is not swallowed
        routing.on_replica(lambda: _fail(), Heartbeat)


def _fail():
    raise OperationalError("primary down")


def test_a_standby_behind_with_no_commit_replayed_yet_is_not_used(settings):
    # Right after a standby starts, replay is behind and pg_last_xact_replay_timestamp() is NULL.
    settings.REPLICA_MAX_LAG_SECONDS = 5
    state = routing.verdict(standby=True, streaming=True, lag=None, now=0.0)
    assert not state.usable and "no commit replayed" in state.reason
    assert routing.verdict(standby=True, streaming=True, lag=0.0, now=0.0).usable
    assert not routing.verdict(standby=True, streaming=True, lag=6.0, now=0.0).usable
