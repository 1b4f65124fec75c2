"""End to end against a real streaming standby (`make test-replica`: REPLICA_DATABASE_URL).

The primary's test database reaches the standby by replication; these tests commit
(transaction=True) so there is something to replicate, and check what the router does with it,
and with the standby stopped.
"""

import time

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.dbhealth import selectors as dbhealth_selectors
from apps.ops import services
from apps.ops.models import Heartbeat
from apps.pg import routing
from tests.local_services import local_sh


def _has_standby() -> bool:
    if not settings.REPLICA_ENABLED:
        return False
    replica, primary = settings.DATABASES["replica"], settings.DATABASES["owner"]
    return (replica["HOST"], str(replica["PORT"])) != (primary["HOST"], str(primary["PORT"]))


pytestmark = [
    pytest.mark.skipif(
        not _has_standby(),
        reason="needs a streaming standby: REPLICA_DATABASE_URL unset (run `make test-replica`)",
    ),
    pytest.mark.django_db(
        transaction=True, databases=["default", "replica", "owner", "monitor", "readonly"]
    ),
]


@pytest.fixture(autouse=True)
def fresh_probe():
    routing.reset()
    yield
    routing.reset()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def wait_on_replica(predicate, timeout=15.0) -> float:
    """Seconds until predicate() holds on the standby."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "the standby did not replay the change"
        time.sleep(0.02)
    return time.monotonic() - start


def test_a_committed_row_reaches_the_standby_and_routed_reads_go_there():
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_database()")
        assert cursor.fetchone() == (True, settings.DATABASES["default"]["NAME"])
    Heartbeat.objects.create(name="replicated", beat_at=timezone.now())
    seconds = wait_on_replica(
        lambda: Heartbeat.objects.using("replica").filter(name="replicated").exists()
    )
    print(f"row visible on the standby after {seconds * 1000:.0f} ms")
    state = routing.state(refresh=True)
    assert state.usable, state.reason
    assert state.lag_seconds < settings.REPLICA_MAX_LAG_SECONDS
    names = routing.on_replica(
        lambda: list(Heartbeat.objects.values_list("name", flat=True)), Heartbeat
    )
    assert names == ["replicated"]
    assert routing.on_replica(lambda: Heartbeat.objects.all().db, Heartbeat) == "replica"


def test_matview_list_reads_the_replica_but_not_right_after_a_write(staff_client):
    services.matview_refresh(name="workflow_summary")
    url = reverse("admin:ops_workflowsummary_changelist")
    wait_on_replica(lambda: routing.state(refresh=True).usable)
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert staff_client.get(url).status_code == 200
    assert any("workflow_summary" in q["sql"] for q in on_replica.captured_queries)
    # A POST (any write) pins this browser (its cookie) to the primary for REPLICA_PIN_SECONDS.
    staff_client.post(url, {})
    assert "flowbase_primary_until" in staff_client.cookies
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        staff_client.get(url)
    assert on_replica.captured_queries == []


def test_overview_and_metrics_show_the_standby(staff_client):
    dbhealth_selectors.cache_clear()  # the /metrics snapshot is cached in Redis
    wait_on_replica(lambda: routing.state(refresh=True).usable)
    page = staff_client.get(reverse("admin:dbhealth_overview") + "?refresh=1")
    assert page.status_code == 200
    html = page.content.decode()
    assert "flowbase-replica" in html and "<strong>on the replica</strong>" in html
    metrics = staff_client.get("/metrics").content.decode()
    assert 'flowbase_db_replica_replay_lag_seconds{standby="flowbase-replica"}' in metrics
    assert "flowbase_db_replica_reads_on_replica 1.0" in metrics


def test_standby_stopped_pages_work_from_the_primary(staff_client, settings):
    # The last probe said "usable" and is trusted for a minute: the standby vanishes between
    # probe and query, the routed query fails, and the page is read again from the primary.
    settings.REPLICA_CHECK_SECONDS = 60
    services.matview_refresh(name="workflow_summary")
    url = reverse("admin:ops_workflowsummary_changelist")
    wait_on_replica(lambda: routing.state(refresh=True).usable)
    connections["replica"].close()
    local_sh("replica-down", mode="REPLICA")
    try:
        start = time.monotonic()
        response = staff_client.get(url)
        fallback = time.monotonic() - start
        assert response.status_code == 200
        print(f"first page with the standby down: {fallback * 1000:.0f} ms")
        assert not routing.state().usable and "query failed" in routing.state().reason
        for page in (url, reverse("admin:tasks_task_changelist"), "/metrics"):
            assert staff_client.get(page).status_code == 200, page
        overview = staff_client.get(reverse("admin:dbhealth_overview") + "?refresh=1")
        assert overview.status_code == 200
        assert "on the primary</span>: query failed" in overview.content.decode()
    finally:
        local_sh("replica-up", mode="REPLICA")
    back = wait_on_replica(lambda: routing.state(refresh=True).usable, timeout=60)
    print(f"routed reads back on the standby {back:.1f} s after its start")


def test_index_scans_on_the_standby_are_read_there_for_the_unused_verdict():
    """Statistics are per server: a scan on the standby is read there, per root index."""
    from django.db import transaction

    from apps.dbhealth.checks.indexes import replica_index_scans

    def heartbeat_scans(scans: dict) -> int:  # its key or the pattern-ops index: the planner's pick
        return sum(n for (schema, name), n in scans.items() if name.startswith("ops_heartbeat_"))

    Heartbeat.objects.create(name="scanned-on-standby", beat_at=timezone.now())
    wait_on_replica(
        lambda: Heartbeat.objects.using("replica").filter(name="scanned-on-standby").exists()
    )
    before, status = replica_index_scans()
    assert status == "read"
    with transaction.atomic(using="replica"), connections["replica"].cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the table is tiny: force the index
        cursor.execute("SELECT name FROM ops_heartbeat WHERE name = %s", ["scanned-on-standby"])
        assert cursor.fetchall() == [("scanned-on-standby",)]
    connections["replica"].close()  # a backend's statistics are flushed when it ends at the latest

    def counted() -> bool:
        scans, _ = replica_index_scans()
        connections["replica"].close()
        return heartbeat_scans(scans) > heartbeat_scans(before)

    print(f"standby scan counted after {wait_on_replica(counted) * 1000:.0f} ms")
