"""The events chart's hourly roll-up: closed hours counted once by the job, marked again by any
later write into them, and the chart's counts always those of the live rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.access.models import ProjectRole
from apps.access.services import membership_set
from apps.events import services
from apps.events.models import (
    Event,
    EventCountDirtyHour,
    EventCountRollup,
    EventHourCount,
    EventRow,
)
from apps.events.selectors import severity_counts, severity_counts_rolled
from tests.factories.domain import ProjectFactory
from tests.factories.events import EventFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
SEVERITIES = ("debug", "info", "warning", "error", "critical")


def _hours_ago(hours: float, minutes: float = 0) -> datetime:
    return NOW - timedelta(hours=hours, minutes=minutes)


@pytest.fixture
def events():
    """Events of every severity over the last ten days, on and around hour boundaries."""
    made = []
    for i in range(0, 240, 7):
        at = _hours_ago(i, minutes=i % 60)
        made.append(EventFactory(created_at=at, severity=SEVERITIES[i % 5]))
        made.append(EventFactory(created_at=at.replace(minute=0, second=0, microsecond=0)))
    made.append(EventFactory(created_at=NOW - timedelta(minutes=1), severity="critical"))
    made += EventFactory.create_batch(2, created_at=_hours_ago(3, minutes=59), severity="error")
    return made


def _window(since):
    return Event.objects.filter(created_at__gte=since, created_at__lt=NOW + timedelta(minutes=5))


def _both(since, severity=None, bucket="hour"):
    rows = _window(since) if since else Event.objects.all()
    if severity:
        rows = rows.filter(severity=severity)
    live = severity_counts(rows, bucket=bucket)
    rolled = severity_counts_rolled(
        rows, since=since, until=NOW + timedelta(minutes=5), severity=severity, bucket=bucket
    )
    return live, rolled


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def test_the_roll_up_covers_closed_hours_and_counts_them(events):
    report = services.event_counts_roll_up(now=NOW)
    state = EventCountRollup.objects.get()
    assert report.outcome == "done"
    assert state.rolled_through == _hour(NOW - services.SETTLE)
    assert state.rolled_from == _hour(min(e.created_at for e in events))
    covered = [e for e in events if state.rolled_from <= e.created_at < state.rolled_through]
    assert sum(EventHourCount.objects.values_list("events", flat=True)) == len(covered)


@pytest.mark.parametrize("days", [1, 7, None])
@pytest.mark.parametrize("severity", [None, "error"])
@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_the_chart_from_the_roll_up_equals_the_live_count(events, days, severity, bucket):
    services.event_counts_roll_up(now=NOW)
    since = NOW - timedelta(days=days) if days else None
    live, rolled = _both(since, severity, bucket)
    assert rolled == live and live


def test_the_chart_reads_the_roll_up_for_closed_hours(events):
    services.event_counts_roll_up(now=NOW)
    probe = EventHourCount.objects.filter(
        hour__lt=_hour(NOW) - timedelta(hours=3), hour__gt=NOW - timedelta(days=6)
    ).first()
    EventHourCount.objects.filter(pk=probe.pk).update(events=999)
    live, rolled = _both(NOW - timedelta(days=7))
    assert rolled[probe.hour][probe.severity] == 999 != live[probe.hour][probe.severity]
    # ...which the next run, recounting nothing marked and the last hour only, keeps: a
    # corrupted roll-up is a bug to see, not to hide
    services.event_counts_roll_up(now=NOW)
    assert EventHourCount.objects.get(pk=probe.pk).events == 999


def test_a_back_dated_write_marks_its_hour_and_the_chart_stays_true(events):
    services.event_counts_roll_up(now=NOW)
    old = _hours_ago(30, minutes=10)
    EventFactory.create_batch(3, created_at=old, severity="warning")
    assert list(EventCountDirtyHour.objects.values_list("hour", flat=True)) == [_hour(old)]
    live, rolled = _both(NOW - timedelta(days=7))
    assert rolled == live

    report = services.event_counts_roll_up(now=NOW)
    assert report.marks_taken == 1 and not EventCountDirtyHour.objects.exists()
    recounted = EventHourCount.objects.get(hour=_hour(old), severity="warning").events
    assert (
        recounted
        == Event.objects.filter(
            severity="warning",
            created_at__gte=_hour(old),
            created_at__lt=_hour(old) + timedelta(hours=1),
        ).count()
    )
    assert _both(NOW - timedelta(days=7))[1] == live


def test_deletes_and_moves_mark_every_hour_they_touch(events):
    a, b = _hours_ago(50), _hours_ago(80)
    EventFactory(created_at=a)  # an hour with rows, whatever the clock says
    services.event_counts_roll_up(now=NOW)
    Event.objects.filter(
        created_at__gte=_hour(a), created_at__lt=_hour(a) + timedelta(hours=1)
    ).delete()
    moved = EventFactory(created_at=NOW)  # not yet rolled up: marks nothing
    assert set(EventCountDirtyHour.objects.values_list("hour", flat=True)) == {_hour(a)}
    Event.objects.filter(id=moved.id).update(created_at=b)
    assert set(EventCountDirtyHour.objects.values_list("hour", flat=True)) == {_hour(a), _hour(b)}
    live, rolled = _both(None)
    assert rolled == live
    services.event_counts_roll_up(now=NOW)
    assert not EventCountDirtyHour.objects.exists()
    assert _both(None)[1] == live


def test_writes_before_the_first_run_mark_nothing_and_runs_are_idempotent(events):
    assert not EventCountDirtyHour.objects.exists()
    services.event_counts_roll_up(now=NOW)
    first = set(EventHourCount.objects.values_list("hour", "severity", "events"))
    services.event_counts_roll_up(now=NOW)
    assert set(EventHourCount.objects.values_list("hour", "severity", "events")) == first


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
@pytest.mark.usefixtures("restore_partitions")
def test_a_detached_partition_leaves_the_chart_in_the_same_transaction():
    """A DETACH fires no trigger: the detach itself drops the partition's counted hours."""
    from apps.pg.partitioning import services as partition_services

    start = timezone.now().astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (start - timedelta(days=14 * 31)).replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "CREATE TABLE events_event_prollup PARTITION OF events_event"
            " FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
    EventFactory.create_batch(3, created_at=start + timedelta(days=2), severity="error")
    EventFactory.create_batch(2, created_at=NOW - timedelta(days=2))
    services.event_counts_roll_up(now=NOW)
    assert EventHourCount.objects.filter(hour__lt=end).exists()

    [done] = partition_services.partitions_detach(apply=True, models=[Event])
    assert done.partition == "events_event_prollup" and done.status == "done"
    assert not EventHourCount.objects.filter(hour__gte=start, hour__lt=end).exists()
    live, rolled = _both(None, bucket="day")
    assert rolled == live and sum(n for by in live.values() for n in by.values()) == 2

    # Attached again (by hand: no trigger, no signal): the next run recounts its range.
    with connections["owner"].cursor() as cursor:
        cursor.execute("ALTER TABLE archive.events_event_prollup SET SCHEMA public")
        cursor.execute(
            "ALTER TABLE events_event ATTACH PARTITION events_event_prollup"
            " FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
    services.event_counts_roll_up(now=NOW)
    assert EventHourCount.objects.get(hour__gte=start, hour__lt=end).events == 3
    live, rolled = _both(None, bucket="day")
    assert rolled == live and sum(n for by in live.values() for n in by.values()) == 5


def test_a_write_into_a_closed_hour_not_yet_counted_is_marked_then_counted(events):
    """While a run catches up (a first run, after an outage) a chunk can count hours whose
    writers have not committed: their marks stay until the chunk that covers them."""
    services.event_counts_roll_up(now=NOW - timedelta(days=3))
    behind = _hours_ago(40, minutes=20)  # closed by the clock, not counted yet
    EventFactory.create_batch(2, created_at=behind, severity="critical")
    assert set(EventCountDirtyHour.objects.values_list("hour", flat=True)) == {_hour(behind)}
    report = services.event_counts_roll_up(now=NOW)
    assert report.marks_taken == 1 and not EventCountDirtyHour.objects.exists()
    live, rolled = _both(None)
    assert rolled == live and live[_hour(behind)]["critical"] >= 2


def test_rows_older_than_every_counted_hour_extend_the_range_down(events):
    services.event_counts_roll_up(now=NOW)
    before = EventCountRollup.objects.get().rolled_from
    ancient = before - timedelta(days=5, minutes=30)
    EventFactory.create_batch(2, created_at=ancient, severity="warning")
    assert set(EventCountDirtyHour.objects.values_list("hour", flat=True)) == {_hour(ancient)}
    live, rolled = _both(None)
    assert rolled == live
    services.event_counts_roll_up(now=NOW)
    assert EventCountRollup.objects.get().rolled_from == _hour(ancient)
    assert not EventCountDirtyHour.objects.exists()
    assert EventHourCount.objects.get(hour=_hour(ancient), severity="warning").events == 2
    assert _both(None)[1] == live


def test_an_empty_table_leaves_nothing_rolled_up():
    EventHourCount.objects.create(hour=_hour(NOW) - timedelta(days=2), severity="info", events=5)
    assert services.event_counts_roll_up(now=NOW).outcome == "empty"
    assert not EventHourCount.objects.exists()
    assert EventCountRollup.objects.get().rolled_through is None


def _chart(client, query=""):
    response = client.get(reverse("admin:events_eventrow_changelist") + query)
    assert response.status_code == 200
    return response.context_data["events_chart"]


def test_the_admin_chart_uses_the_roll_up_only_for_lists_it_can_count(
    client, admin_user, events, monkeypatch
):
    EventFactory(created_at=_hours_ago(7))  # an hour with rows, whatever the clock says
    services.event_counts_roll_up(now=NOW)
    assert EventHourCount.objects.filter(hour=_hour(_hours_ago(7))).update(events=9999)
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as queries:
        assert ": 9,999 " in _chart(client, "?window=24h")
    assert any("events_eventhourcount" in q["sql"] for q in queries.captured_queries)
    chart = _chart(client, "?window=24h&q=task.completed")  # a search: counted live
    assert "9,999" not in chart
    # Two severities (the list ORs them) and an "Older" page: counted live from their rows.
    assert "9,999" not in _chart(client, "?window=24h&severity__exact=info&severity__exact=debug")
    monkeypatch.setattr(admin.site._registry[EventRow], "list_per_page", 3)
    first = client.get(reverse("admin:events_eventrow_changelist") + "?window=24h")
    older = first.context["cl"].keyset_next_url
    assert "after=" in older
    assert "9,999" not in _chart(client, older)

    project = ProjectFactory()
    EventFactory(project=project, created_at=_hours_ago(7))
    member = User.objects.create_user("member", password="pw", is_staff=True)
    member.user_permissions.set(Permission.objects.filter(codename="view_eventrow"))
    membership_set(project_id=project.pk, user_id=member.pk, role=ProjectRole.VIEWER)
    client.force_login(member)
    chart = _chart(client, "?window=24h")
    assert "9,999" not in chart and ": 1 " in chart


def test_the_roll_up_is_a_scheduled_celery_task(events):
    from django_celery_beat.models import PeriodicTask

    from apps.events.tasks import event_counts_roll_up_task
    from apps.ops.services import beat_schedule_install

    beat_schedule_install()
    entry = PeriodicTask.objects.get(task="apps.events.tasks.event_counts_roll_up_task")
    assert entry.enabled and entry.interval.every == 5
    result = event_counts_roll_up_task.apply().get()
    assert result["outcome"] == "done" and result["rolled_through"]
    assert EventHourCount.objects.exists()
