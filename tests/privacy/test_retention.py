"""PRIVACY_RETENTION_DAYS: plain tables lose old rows, archived partitions are dropped, the
partition policy's detach stays the only retention of live partitions, and the policy is checked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from apps.dbhealth.models import DataQualityCheck, DataQualityResult
from apps.ops import services as ops_services
from apps.privacy import retention
from apps.privacy.checks import check_privacy_settings

pytestmark = pytest.mark.django_db(databases=["default", "owner"])


def _owner(sql: str, params=None):
    with connections["owner"].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _archived(name: str) -> bool:
    return bool(_owner("SELECT to_regclass(%s)", [f"archive.{name}"])[0][0])


@pytest.fixture
def old_results():
    check = DataQualityCheck.objects.create(name="retention-probe", kind="missing")
    now = timezone.now()
    for days in (200, 100, 10):
        DataQualityResult.objects.create(
            check_ref=check, ran_at=now - timedelta(days=days), passed=True
        )
    return check


def test_plain_table_rows_older_than_the_policy_are_deleted(old_results, settings):
    settings.PRIVACY_RETENTION_DAYS = {"dbhealth.DataQualityResult": 90}
    touched, details = retention.retention_enforce(apply=False)
    assert details["dbhealth.DataQualityResult"]["would_delete"] == 2 and touched == 2
    assert DataQualityResult.objects.filter(check_ref=old_results).count() == 3
    touched, details = retention.retention_enforce(apply=True)
    assert details["dbhealth.DataQualityResult"]["deleted"] == 2
    assert DataQualityResult.objects.filter(check_ref=old_results).count() == 1


def test_archived_partitions_past_the_policy_are_dropped_and_live_ones_never(settings):
    settings.PRIVACY_RETENTION_DAYS = {"events.Event": 730}
    # Two archived months (as the partition job leaves them) and one far newer one.
    for name, day in (
        ("events_event_p201001", "2010-01-15"),
        ("events_event_p201002", "2010-02-15"),
    ):
        _owner(f"CREATE TABLE archive.{name} (LIKE events_event INCLUDING DEFAULTS)")
        _owner(
            f"INSERT INTO archive.{name} (id, event_type, severity, source_component,"
            " target_component, payload, correlation_id, trace_id, created_at)"
            " VALUES (1, 'x', 'info', 'w', '', '{}', '', '', %s)",
            [day],
        )
    recent = f"events_event_p{timezone.now():%Y%m}"
    _owner(f"CREATE TABLE archive.{recent} (LIKE events_event INCLUDING DEFAULTS)")
    live = _owner("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events_event'::regclass")[0][
        0
    ]

    touched, details = retention.retention_enforce(apply=False)
    assert details["events.Event"]["would_drop"] == ["events_event_p201001", "events_event_p201002"]
    assert _archived("events_event_p201001")

    touched, details = retention.retention_enforce(apply=True)
    assert details["events.Event"]["dropped"] == ["events_event_p201001", "events_event_p201002"]
    assert touched == 2
    assert not _archived("events_event_p201001") and _archived(recent)
    assert (
        _owner("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events_event'::regclass")[0][0]
        == live
    )


def test_an_archived_partition_with_newer_rows_than_its_name_says_is_kept(settings):
    settings.PRIVACY_RETENTION_DAYS = {"events.Event": 730}
    _owner("CREATE TABLE archive.events_event_p200901 (LIKE events_event INCLUDING DEFAULTS)")
    _owner(
        "INSERT INTO archive.events_event_p200901 (id, event_type, severity, source_component,"
        " target_component, payload, correlation_id, trace_id, created_at)"
        " VALUES (1, 'x', 'info', 'w', '', '{}', '', '', now())"
    )
    _, details = retention.retention_enforce(apply=True)
    assert details["events.Event"]["dropped"] == []
    assert "newer than the cutoff" in details["events.Event"]["not_dropped"]["events_event_p200901"]
    assert _archived("events_event_p200901")


@pytest.mark.parametrize(
    "policy, message",
    [
        ({"events.Event": 100}, "shorter than the partition policy's detach age"),
        ({"ops.MatviewRefresh": 10}, "already kept by the ops log retention"),
        ({"nosuch.Model": 10}, "no such model"),
        ({"auth.Group": 10}, "no date field"),
        ({"dbhealth.DataQualityResult": -1}, ">= 0"),
    ],
)
def test_a_bad_policy_is_refused_at_startup(settings, policy, message):
    settings.PRIVACY_RETENTION_DAYS = policy
    errors = check_privacy_settings()
    assert [e.id for e in errors] == ["privacy.E010"]
    assert message in errors[0].msg


def test_the_shipped_policy_passes_its_checks():
    assert check_privacy_settings() == []


def test_the_nightly_maintenance_enforces_the_policy(old_results, settings):
    settings.PRIVACY_RETENTION_DAYS = {"dbhealth.DataQualityResult": 90}
    rows = ops_services.maintenance_run(apply=True, steps=("retention",))
    step = rows[1]
    assert step.outcome == "success"
    assert step.details["privacy"]["dbhealth.DataQualityResult"]["deleted"] == 2
    assert DataQualityResult.objects.filter(check_ref=old_results).count() == 1
