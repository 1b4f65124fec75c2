"""A lock held by a second connection blocks a third: the chain, its finding, metrics, cancel/terminate."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from apps.dbhealth import selectors

from .conftest import SCHEMA, page_url
from .helpers import dbhealth_json, finding_keys, metric_value, metrics_text

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])


@pytest.fixture
def blocked_pair(scratch):
    """(holder pid, waiter pid, waiter outcome dict): holder locks a row, waiter updates it."""
    holder = psycopg.connect(scratch, application_name="dbh-holder")
    holder.execute(f"UPDATE {SCHEMA}.lockme SET v = v + 1 WHERE id = 1")  # transaction left open
    holder_pid = holder.info.backend_pid
    outcome: dict = {}
    ready = threading.Event()

    def wait():
        with psycopg.connect(scratch, application_name="dbh-waiter", autocommit=True) as conn:
            outcome["pid"] = conn.info.backend_pid
            conn.execute("SET statement_timeout = '20s'")
            ready.set()
            try:
                conn.execute(f"UPDATE {SCHEMA}.lockme SET v = v + 1 WHERE id = 1")
                outcome["result"] = "done"
            except psycopg.Error as exc:
                outcome["result"] = type(exc).__name__

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    ready.wait(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(
            r["blocked_by"]
            for r in selectors.activity_report()["backends"]
            if r["pid"] == outcome["pid"]
        ):
            break
        time.sleep(0.05)
    yield holder_pid, outcome["pid"], outcome, thread
    try:
        holder.rollback()
        holder.close()
    except psycopg.Error:
        pass
    thread.join(25)


def test_blocking_chain_everywhere(blocked_pair, admin_client_dbh):
    holder_pid, waiter_pid, _, _ = blocked_pair
    report = selectors.activity_report()
    chain = [(c["depth"], c["pid"]) for c in report["blocking_chains"]]
    assert (0, holder_pid) in chain and (1, waiter_pid) in chain
    page = admin_client_dbh.get(page_url("activity") + "?refresh=1").content.decode()
    assert (
        'id="blocking"' in page
        and f'data-pid="{waiter_pid}"' in page
        and "blocker</strong> " + str(holder_pid) in page
    )
    _, doc = dbhealth_json("activity")
    waiter = next(b for b in doc["sections"]["activity"]["backends"] if b["pid"] == waiter_pid)
    assert (
        waiter["blocked_by"] == [holder_pid] and doc["sections"]["activity"]["blocked_count"] >= 1
    )
    assert f"activity.blocking:{holder_pid}" in finding_keys(admin_client_dbh)
    metrics = metrics_text(admin_client_dbh)
    assert metric_value(metrics, "flowbase_db_blocked_backends") >= 1
    assert metric_value(metrics, "flowbase_db_longest_transaction_seconds") > 0


def test_cancel_then_terminate_with_confirmation_and_audit(
    blocked_pair, admin_client_dbh, superuser
):
    holder_pid, waiter_pid, outcome, thread = blocked_pair
    confirm = admin_client_dbh.get(page_url(f"activity/{waiter_pid}/cancel"))
    assert confirm.status_code == 200 and b'id="confirm-signal"' in confirm.content
    assert outcome.get("result") is None  # a GET never signals
    response = admin_client_dbh.post(page_url(f"activity/{waiter_pid}/cancel"))
    assert response.status_code == 302
    thread.join(10)
    assert outcome["result"] == "QueryCanceled"

    admin_client_dbh.post(page_url(f"activity/{holder_pid}/terminate"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        r["pid"] == holder_pid for r in selectors.activity_report()["backends"]
    ):
        time.sleep(0.05)
    assert not any(r["pid"] == holder_pid for r in selectors.activity_report()["backends"])

    from apps.audit.models import AuditEventRow

    actions = {
        (e.changes.get("action"), e.row_pk)
        for e in AuditEventRow.objects.filter(table_name="pg_stat_activity", actor_id=superuser.pk)
    }
    assert ("dbhealth.backend_cancel", str(waiter_pid)) in actions
    assert ("dbhealth.backend_terminate", str(holder_pid)) in actions


def test_pages_do_not_wait_behind_a_migration_lock(scratch, admin_client_dbh):
    """ACCESS EXCLUSIVE held elsewhere (a migration): pages render without waiting, the
    locked table's indexes get no verdict."""
    with psycopg.connect(scratch, application_name="dbh-migration") as conn:
        conn.execute(f"LOCK TABLE {SCHEMA}.things IN ACCESS EXCLUSIVE MODE")
        conn.execute(f"LOCK TABLE {SCHEMA}.churn IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        for page in ("indexes", "tables", "overview", "findings"):
            response = admin_client_dbh.get(page_url(page) + "?refresh=1")
            assert response.status_code == 200, page
        assert time.monotonic() - started < 5  # no lock_timeout was waited for
        report = selectors.index_report()
        things = [i for i in report["indexes"] if i["schema"] == SCHEMA and i["table"] == "things"]
        assert things and all(i["flags"] == ["locked"] for i in things)
        churn = next(t for t in selectors.table_report()["tables"] if t["name"] == "churn")
        assert churn["dead_tuples"] == 4000
        conn.rollback()


def test_a_catalog_timeout_gives_a_503_page_not_a_500(admin_client_dbh, monkeypatch):
    from django.db import OperationalError

    from apps.dbhealth.checks import indexes

    def boom(*a, **k):
        raise OperationalError("canceling statement due to lock timeout")

    monkeypatch.setattr(indexes, "fetch_indexes", boom)
    response = admin_client_dbh.get(page_url("indexes") + "?refresh=1")
    assert response.status_code == 503
    assert b'id="dbh-unavailable"' in response.content and b"lock timeout" in response.content


def test_own_app_connection_is_self_although_the_catalog_is_read_as_the_monitor(
    admin_client_dbh, superuser
):
    """The pages read pg_stat_activity as the monitor, but the request's own app connection
    (the one that would send the signal) is "self" too: not listed, never signalled, no audit."""
    from django.db import connection

    from apps.audit.models import AuditEventRow

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]
    assert not any(r["pid"] == own_pid for r in selectors.activity_report()["backends"])
    for action in ("cancel", "terminate"):
        response = admin_client_dbh.post(page_url(f"activity/{own_pid}/{action}"), follow=True)
        assert f"Backend {own_pid} is gone or cannot be signalled." in response.content.decode()
    assert not AuditEventRow.objects.filter(table_name="pg_stat_activity").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == own_pid  # still connected
