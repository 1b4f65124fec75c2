"""Verdicts a DBA can trust: an observation window before "unused", a rebuild of an invalid
unique index that finds its duplicates first, third-party tables marked, a manual REFRESH
counted, and an accepted finding that stays accepted until its evidence changes materially."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.dbhealth import selectors, services
from apps.dbhealth.checks.indexes import replica_index_scans as read_replica_scans
from apps.dbhealth.models import Finding, FindingStatus, IndexUsageSnapshot
from tests.db import conninfo

from .conftest import SCHEMA, page_url
from .plant import PLANT, open_findings, owner_execute, planted

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])


def _flags(report: dict, name: str) -> list[str]:
    return next(
        i["flags"] for i in report["indexes"] if i["schema"] == SCHEMA and i["name"] == name
    )


def _snapshot(days_ago: float, index: str = "things_pkey") -> None:
    IndexUsageSnapshot.objects.create(
        taken_at=timezone.now() - timedelta(days=days_ago),
        schema_name=SCHEMA,
        table_name="things",
        index_name=index,
        idx_scan=0,
        idx_tup_read=0,
        size_bytes=8192,
    )


def test_no_unused_verdict_before_the_observation_window(scratch, settings):
    settings.DBHEALTH = {**settings.DBHEALTH, "UNUSED_MIN_DAYS": 7}
    report = selectors.index_report()  # a fresh database: never reset, no snapshots
    assert report["observed_since"] is None and report["unused_verdicts_from"] is None
    assert "unused" not in _flags(report, "things_code_unused")

    _snapshot(days_ago=2)  # watched for two days: still too early
    report = selectors.index_report()
    assert report["observed_since"] is not None
    assert report["unused_verdicts_from"] > timezone.now() + timedelta(days=4)
    assert "unused" not in _flags(report, "things_code_unused")

    _snapshot(days_ago=8)  # eight days of history: a verdict
    report = selectors.index_report()
    assert "unused" in _flags(report, "things_code_unused")
    finding = next(f for f in report["findings"] if f["key"].endswith(".things_code_unused"))
    assert finding["evidence"]["verdicts_from"] <= timezone.now()


def test_third_party_tables_get_third_party_advice(scratch):
    found = open_findings()
    auth = [f for k, f in found.items() if k.startswith("index.") and ":public.auth_" in k]
    assert auth, "Django's auth tables have prefix-duplicate FK indexes"
    for f in auth:
        assert "third-party table (django.contrib.auth)" in f["evidence"]["django"]
        assert "through the model" not in f["evidence"]["django"]


@pytest.mark.django_db(databases=["default", "monitor", "readonly"], transaction=True)
def test_invalid_unique_index_fix_finds_the_duplicates_first():
    owner = conninfo("owner")
    sql = """
        CREATE TABLE P.accounts (id int PRIMARY KEY, email text);
        INSERT INTO P.accounts VALUES (1, 'a@x'), (2, 'a@x'), (3, 'b@x');
    """
    with planted(sql, owner=owner):
        with (
            psycopg.connect(owner, autocommit=True) as conn,
            pytest.raises(psycopg.errors.UniqueViolation),
        ):
            conn.execute(
                f"CREATE UNIQUE INDEX CONCURRENTLY accounts_email ON {PLANT}.accounts (email)"
            )
        fix = open_findings()[f"index.invalid:{PLANT}.accounts_email"]["suggested_fix"]
        query = next(line for line in fix.splitlines() if line.startswith("SELECT"))
        assert "HAVING count(*) > 1" in query
        with psycopg.connect(owner, autocommit=True) as conn:
            assert conn.execute(query).fetchall() == [("a@x", 2)]
            conn.execute(f"DELETE FROM {PLANT}.accounts WHERE id = 2")  # the DBA's merge
        owner_execute(fix, conninfo=owner)
        assert f"index.invalid:{PLANT}.accounts_email" not in open_findings()


@pytest.mark.django_db(databases=["default", "monitor", "readonly"], transaction=True)
def test_a_manual_refresh_counts_for_freshness():
    from apps.ops.models import MatviewRefresh

    owner = conninfo("owner")
    sql = """
        CREATE MATERIALIZED VIEW P.report_mv AS SELECT 1 AS x;
        CREATE MATERIALIZED VIEW P.other_mv AS SELECT 1 AS x;
    """
    with planted(sql, owner=owner):
        long_ago = timezone.now() - timedelta(days=3)
        for name in ("report_mv", "other_mv"):
            MatviewRefresh.objects.create(
                view_name=f"{PLANT}.{name}",
                started_at=long_ago,
                finished_at=long_ago + timedelta(seconds=1),
                duration_ms=1000,
                rows=1,
                outcome="success",
            )
        found = open_findings()
        assert {f"matview.stale:{PLANT}.report_mv", f"matview.stale:{PLANT}.other_mv"} <= set(found)
        owner_execute(f"REFRESH MATERIALIZED VIEW {PLANT}.report_mv", conninfo=owner)  # in psql
        found = open_findings()
        assert f"matview.stale:{PLANT}.report_mv" not in found
        assert f"matview.stale:{PLANT}.other_mv" in found  # the near miss: not refreshed


def _cand(size: int, severity: str = "info") -> dict:
    return {
        "key": "index.unused:public.big_idx",
        "kind": "index.unused",
        "severity": severity,
        "object_name": "public.big_idx",
        "title": "Unused index big_idx",
        "evidence": {"size_bytes": size, "idx_scan": 0},
    }


def test_accepted_finding_stays_until_its_evidence_changes_materially():
    services.findings_sync(candidates=[_cand(1000)], kind_prefixes=("index.",))
    f = Finding.objects.get()
    with pytest.raises(ValueError):
        services.finding_accept(finding=f, user_id=None, reason="  ")
    services.finding_accept(finding=f, user_id=None, reason="used by the yearly report")
    for size in (1000, 1500, 1999):  # grows, but less than 2x: still accepted
        services.findings_sync(candidates=[_cand(size)], kind_prefixes=("index.",))
        f.refresh_from_db()
        assert f.status == FindingStatus.ACCEPTED, size
    assert f not in selectors.finding_list() and selectors.critical_open_count() == 0
    services.findings_sync(candidates=[_cand(2000)], kind_prefixes=("index.",))
    f.refresh_from_db()
    assert f.status == FindingStatus.OPEN and "size_bytes 1,000 → 2,000" in f.note

    services.finding_accept(finding=f, user_id=None, reason="still the yearly report")
    services.findings_sync(candidates=[_cand(2000, "warning")], kind_prefixes=("index.",))
    f.refresh_from_db()
    assert f.status == FindingStatus.OPEN  # a worse severity reopens it too

    services.finding_accept(finding=f, user_id=None, reason="again")
    services.findings_sync(candidates=[], kind_prefixes=("index.",))
    f.refresh_from_db()
    assert f.status == FindingStatus.RESOLVED  # the condition cleared


def test_accept_from_the_command(capsys):
    services.findings_sync(candidates=[_cand(1000)], kind_prefixes=("index.",))
    call_command("dbhealth", "--accept", "index.unused:public.big_idx", "--reason", "known")
    f = Finding.objects.get()
    assert f.status == FindingStatus.ACCEPTED and f.accepted_reason == "known"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="needs a reason"):
        call_command("dbhealth", "--accept", "index.unused:public.big_idx")
    with pytest.raises(CommandError, match="no finding"):
        call_command("dbhealth", "--accept", "nope", "--reason", "x")


def _index(report: dict, name: str) -> dict:
    return next(i for i in report["indexes"] if i["schema"] == SCHEMA and i["name"] == name)


def test_an_index_scanned_only_on_the_standby_is_not_unused(scratch, monkeypatch):
    from apps.dbhealth.checks import indexes

    assert "unused" in _flags(selectors.index_report(), "things_code_unused")
    standby = {(SCHEMA, "things_code_unused"): 3}
    monkeypatch.setattr(indexes, "replica_index_scans", lambda: (standby, "read"))
    selectors.cache_clear()
    report = selectors.index_report()
    assert report["replica_usage"] == "read"
    assert "unused" not in _flags(report, "things_code_unused")
    assert _index(report, "things_code_unused")["replica_idx_scan"] == 3
    assert not any(f["key"].endswith(".things_code_unused") for f in report["findings"])


def test_no_unused_verdict_while_the_standby_cannot_be_read(scratch, monkeypatch, admin_client_dbh):
    from apps.dbhealth.checks import indexes

    why = "unavailable: connection refused"
    monkeypatch.setattr(indexes, "replica_index_scans", lambda: (None, why))
    selectors.cache_clear()
    report = selectors.index_report()
    assert not [i for i in report["indexes"] if "unused" in i["flags"]]
    assert not [f for f in report["findings"] if f["kind"] == "index.unused"]
    page = admin_client_dbh.get(page_url("indexes") + "?refresh=1")
    assert page.status_code == 200
    assert f"the standby's usage is {why}" in page.content.decode()


def test_without_a_standby_only_this_servers_scans_count(scratch, monkeypatch, settings):
    from apps.dbhealth.checks import indexes

    settings.REPLICA_ENABLED = False
    monkeypatch.setattr(indexes, "replica_index_scans", read_replica_scans)
    assert read_replica_scans() == ({}, "")
    report = selectors.index_report()
    assert report["replica_usage"] == ""
    assert _index(report, "things_code_unused")["replica_idx_scan"] is None
