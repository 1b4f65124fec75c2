import json
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from apps.events.models import Event, PerformanceMetric
from apps.pg import partitioning as partitions
from apps.pg.partitioning import AlignedTimeStrategy, PartitionPolicy
from apps.pg.partitioning import services as partition_services
from tests.factories.events import EventFactory, PerformanceMetricFactory

from .conftest import PARTITION_DDL

pytestmark = pytest.mark.django_db


def partition_ddl(test):
    """Committed test (owner-run partition DDL), partitions restored afterwards."""
    for mark in reversed(PARTITION_DDL):
        test = mark(test)
    return test


def _partition_of(model, **filters) -> str:
    table = model._meta.db_table
    key = model._partitioning_meta.key[0]
    where = " AND ".join(f"{column} = %s" for column in filters)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {table} WHERE {where} ORDER BY {key}",
            list(filters.values()),
        )
        return cursor.fetchone()[0]


def _month_name(table: str, moment: datetime) -> str:
    return f"{table}_p{moment.astimezone(UTC):%Y%m}"


def _day_name(table: str, moment: datetime) -> str:
    return f"{table}_p{moment.astimezone(UTC):%Y%m%d}"


# --- strategy -------------------------------------------------------------------------------


def test_month_strategy_is_month_aligned_never_the_current_hour():
    now = datetime(2026, 11, 25, 13, 37, 12, tzinfo=UTC)
    strategy = AlignedTimeStrategy(unit="months", ahead=3, behind=1, now=lambda: now)
    created = list(strategy.to_create())
    assert [(p.from_values, p.to_values) for p in created] == [
        ("2026-10-01 00:00:00", "2026-11-01 00:00:00"),
        ("2026-11-01 00:00:00", "2026-12-01 00:00:00"),
        ("2026-12-01 00:00:00", "2027-01-01 00:00:00"),
        ("2027-01-01 00:00:00", "2027-02-01 00:00:00"),
        ("2027-02-01 00:00:00", "2027-03-01 00:00:00"),
    ]
    assert [p.name() for p in created][:2] == ["p202610", "p202611"]
    assert list(strategy.to_delete()) == []  # retention detaches; pgpartition never drops


def test_day_strategy_is_midnight_aligned_and_stable_across_hours():
    def plan(hour: int):
        now = datetime(2026, 3, 1, hour, 59, tzinfo=UTC)
        strategy = AlignedTimeStrategy(unit="days", ahead=14, behind=7, now=lambda: now)
        return [(p.name(), p.from_values, p.to_values) for p in strategy.to_create()]

    early, late = plan(0), plan(23)
    assert early == late
    assert len(early) == 7 + 1 + 14
    assert early[0] == ("p20260222", "2026-02-22 00:00:00", "2026-02-23 00:00:00")
    assert early[7] == ("p20260301", "2026-03-01 00:00:00", "2026-03-02 00:00:00")


def test_policy_refuses_retention_shorter_than_the_partitions_kept_behind():
    with pytest.raises(ValueError, match="re-created"):
        PartitionPolicy(PerformanceMetric, unit="days", behind=7, retention=relativedelta(days=3))


def test_created_partitions_have_aligned_bounds_and_cover_now():
    now = timezone.now()
    for config in partitions.policy_list():
        ranges = [
            p for p in partitions.partition_list(config.model._meta.db_table) if not p.is_default
        ]
        assert ranges, config.model
        for p in ranges:
            assert (p.range_from.hour, p.range_from.minute, p.range_from.second) == (0, 0, 0)
            if getattr(config, "unit", None) == "months":
                assert p.range_from.day == 1 and p.range_to.day == 1
        assert any(p.range_from <= now < p.range_to for p in ranges), config.model


# --- routing and the default-partition alarm -------------------------------------------------


def test_rows_route_to_their_month_and_day_partitions():
    now = timezone.now()
    earlier = now - timedelta(days=40)  # previous month or the one before: may not exist
    event = EventFactory(created_at=now)
    assert _partition_of(Event, id=event.id) == _month_name("events_event", now)
    old = EventFactory(created_at=earlier)
    expected_old = (
        _month_name("events_event", earlier)
        if any(
            p.range_from <= earlier < p.range_to
            for p in partitions.partition_list("events_event")
            if not p.is_default
        )
        else "events_event_default"
    )
    assert _partition_of(Event, id=old.id) == expected_old

    metric = PerformanceMetricFactory(recorded_at=now - timedelta(days=3))
    assert _partition_of(PerformanceMetric, id=metric.id) == _day_name(
        "events_performancemetric", now - timedelta(days=3)
    )


def test_rows_outside_every_partition_land_in_default_and_are_reported(capsys):
    assert not [r for _, r in partitions.default_partition_alarms() if r.parent == "events_event"]
    far = timezone.now() + relativedelta(years=5)
    stray = EventFactory(created_at=far)
    assert _partition_of(Event, id=stray.id) == "events_event_default"

    [report] = [r for _, r in partitions.default_partition_alarms() if r.parent == "events_event"]
    assert (report.partition, report.rows, report.capped) == ("events_event_default", 1, False)
    assert report.oldest == report.newest == far

    with pytest.raises(CommandError, match="default partition"):
        call_command("partitions", "list", "--json")
    listing = json.loads(capsys.readouterr().out)
    assert listing["default_partition_rows"][0]["partition"] == "events_event_default"
    assert listing["tables"]["events_event"]["partitions"][-1]["is_default"] is True


# --- create ---------------------------------------------------------------------------------


def _drop_last_month_partition() -> partitions.PartitionInfo:
    last = [p for p in partitions.partition_list("events_event") if not p.is_default][-1]
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'DROP TABLE "{last.name}"')
    return last


@partition_ddl
def test_create_makes_missing_partitions_and_a_second_apply_is_a_noop():
    missing = _drop_last_month_partition()

    dry = partition_services.partitions_create(models=[Event])
    assert [(a.partition, a.status) for a in dry] == [(missing.name, "planned")]
    assert missing.name not in {p.name for p in partitions.partition_list("events_event")}

    done = partition_services.partitions_create(apply=True, models=[Event])
    assert [(a.partition, a.status) for a in done] == [(missing.name, "done")]
    recreated = next(p for p in partitions.partition_list("events_event") if p.name == missing.name)
    assert (recreated.range_from, recreated.range_to) == (missing.range_from, missing.range_to)

    before = partitions.partition_list("events_event")
    assert partition_services.partitions_create(apply=True) == []  # every model: nothing to do
    assert [p.name for p in partitions.partition_list("events_event")] == [p.name for p in before]


@partition_ddl
def test_create_is_blocked_when_the_default_partition_holds_rows_of_that_range():
    missing = _drop_last_month_partition()
    EventFactory(created_at=missing.range_from + timedelta(hours=1))  # now in the default

    [action] = partition_services.partitions_create(apply=True, models=[Event])
    assert action.status == "blocked"
    assert "1 row(s) for this range are in events_event_default" in action.reason
    assert missing.name not in {p.name for p in partitions.partition_list("events_event")}


@partition_ddl
def test_create_command_dry_run_changes_nothing(capsys):
    missing = _drop_last_month_partition()
    call_command("partitions", "create")
    out = capsys.readouterr().out
    assert "dry run" in out and f"planned  create {missing.name}" in out
    assert missing.name not in {p.name for p in partitions.partition_list("events_event")}


# --- retention: detach into the archive schema ----------------------------------------------


def _make_old_event_partition(months_ago: int) -> tuple[str, datetime]:
    start = partitions.truncate(timezone.now(), "months") - relativedelta(months=months_ago)
    end = start + relativedelta(months=1)
    name = f"events_event_p{start:%Y%m}"
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {name} PARTITION OF events_event FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
    return name, start


def _archive_count(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM archive.{name}")
        return cursor.fetchone()[0]


@partition_ddl
def test_detach_moves_partitions_past_retention_into_archive_keeping_every_row():
    old_name, old_start = _make_old_event_partition(months_ago=14)  # retention: 12 months
    EventFactory.create_batch(3, created_at=old_start + timedelta(days=2))
    EventFactory.create_batch(2)
    before = Event.objects.count()
    assert _partition_of(Event, created_at=old_start + timedelta(days=2)) == old_name

    planned = partition_services.partitions_detach(models=[Event])
    assert [(a.partition, a.status) for a in planned] == [(old_name, "planned")]
    assert Event.objects.count() == before  # dry run

    [done] = partition_services.partitions_detach(apply=True, models=[Event])
    assert (done.partition, done.status) == (old_name, "done")
    assert old_name not in {p.name for p in partitions.partition_list("events_event")}
    live = Event.objects.count()
    assert live == before - 3
    assert live + _archive_count(old_name) == before

    assert partition_services.partitions_detach(apply=True, models=[Event]) == []


@partition_ddl
def test_detach_gives_up_on_lock_timeout_instead_of_waiting():
    # Seen from three years ahead, every Event partition is past retention.
    future = timezone.now() + relativedelta(years=3)
    config = next(c for c in partitions.policy_list() if c.model is Event)
    real_timeout, config.lock_timeout = config.lock_timeout, "50ms"
    # A second session holds a lock on the parent, as a long report query would.
    other = connection.copy()
    try:
        other.ensure_connection()
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("LOCK TABLE events_event IN ACCESS SHARE MODE")
            actions = partition_services.partitions_detach(apply=True, models=[Event], now=future)
            cursor.execute("ROLLBACK")
    finally:
        config.lock_timeout = real_timeout
        other.close()
    assert actions and {a.status for a in actions} == {"failed"}
    assert all(a.reason.startswith("lock_timeout") for a in actions)
    assert len([p for p in partitions.partition_list("events_event") if not p.is_default]) == len(
        actions
    )


@partition_ddl
def test_create_command_apply_twice_second_is_a_noop(capsys):
    missing = _drop_last_month_partition()
    call_command("partitions", "create", "--apply", "--json")
    first = json.loads(capsys.readouterr().out)
    assert [(a["partition"], a["status"]) for a in first["actions"]] == [(missing.name, "done")]
    call_command("partitions", "create", "--apply", "--json")
    assert json.loads(capsys.readouterr().out) == {"apply": True, "actions": []}


@partition_ddl
def test_detach_command_dry_run_lists_without_detaching(capsys):
    old_name, _ = _make_old_event_partition(months_ago=13)
    call_command("partitions", "detach")
    out = capsys.readouterr().out
    assert f"planned  detach {old_name}" in out and "(retention 1 year)" in out
    assert old_name in {p.name for p in partitions.partition_list("events_event")}


def test_database_check_warns_about_rows_in_a_default_partition():
    from apps.pg.partitioning.checks import default_partitions_are_empty

    assert default_partitions_are_empty(databases=["default"]) == []
    EventFactory(created_at=timezone.now() + relativedelta(years=5))
    [warning] = default_partitions_are_empty(databases=["default"])
    assert warning.id == "events.W001" and "events_event_default holds 1 row(s)" in warning.msg
    assert default_partitions_are_empty(databases=None) == []  # plain `check`: no DB access


@partition_ddl
def test_pgpartition_never_plans_a_drop_even_past_retention():
    from apps.pg.partitioning.manager import manager

    _make_old_event_partition(months_ago=30)  # far past the 12-month retention
    assert manager.plan(skip_create=True).deletions == []


@partition_ddl
def test_create_can_move_rows_out_of_the_default_partition():
    missing = _drop_last_month_partition()
    stray = EventFactory(created_at=missing.range_from + timedelta(hours=1))
    other = EventFactory(created_at=timezone.now() + relativedelta(years=5))  # stays in default
    before = Event.objects.count()

    [action] = partition_services.partitions_create(
        apply=True, move_default_rows=True, models=[Event]
    )
    assert (action.status, action.reason) == ("done", "moves 1 row(s) out of events_event_default")
    assert _partition_of(Event, id=stray.id) == missing.name
    assert _partition_of(Event, id=other.id) == "events_event_default"
    assert Event.objects.count() == before
    moved = Event.objects.get(pk=(stray.created_at, stray.id))
    assert (moved.event_type, moved.payload) == (stray.event_type, stray.payload)


@partition_ddl
def test_moving_default_rows_works_for_the_append_only_audit_log():
    from apps.audit.models import AuditEvent
    from tests.factories.audit import AuditEventFactory

    last = [p for p in partitions.partition_list("audit_auditevent") if not p.is_default][-1]
    with connections["owner"].cursor() as cursor:
        cursor.execute(f'DROP TABLE "{last.name}"')
    row = AuditEventFactory(created_at=last.range_from + timedelta(days=1))
    [action] = partition_services.partitions_create(
        apply=True, move_default_rows=True, models=[AuditEvent]
    )
    assert action.status == "done"
    assert _partition_of(AuditEvent, id=row.id) == last.name
    # the guard is back once the move is over
    from django.db import IntegrityError, transaction

    # (tried as the owner: the app has no DELETE on the audit log at all)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(using="owner"):
        AuditEvent.objects.using("owner").filter(pk=row.pk).delete()
