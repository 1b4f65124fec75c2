"""Maintenance: stale statistics, partitioned parents, retention, dry run, the run log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from apps.ops import services
from apps.ops.models import MaintenanceRun, MatviewRefresh

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


def _old_and_new_refresh_logs() -> None:
    now = timezone.now()
    for days in (45, 40, 1):
        MatviewRefresh.objects.create(
            view_name="workflow_summary",
            started_at=now - timedelta(days=days),
            finished_at=now - timedelta(days=days),
            outcome="success",
        )


def _has_statistics(relation: str) -> bool:
    # pg_stats: pg_statistic itself is readable by superusers only.
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_stats WHERE tablename = %s)", [relation])
        return cursor.fetchone()[0]


def test_dry_run_reports_without_changing_anything():
    _old_and_new_refresh_logs()
    rows = services.maintenance_run(apply=False, steps=("retention", "vacuum_report"))
    assert [r.step for r in rows] == ["run", "retention", "vacuum_report"]
    assert all(r.outcome == "dry_run" for r in rows)
    retention = rows[1]
    assert retention.details["ops.MatviewRefresh"] == {"older_than_days": 30, "would_delete": 2}
    assert MatviewRefresh.objects.count() == 3


def test_apply_analyzes_stale_tables_and_partitioned_parents_and_prunes_logs():
    _old_and_new_refresh_logs()
    with connections["owner"].cursor() as cursor:  # DDL: the owner's
        cursor.execute("DROP TABLE IF EXISTS ops_test_parted")
        cursor.execute("CREATE TABLE ops_test_parted (n int) PARTITION BY RANGE (n)")
        cursor.execute(
            "CREATE TABLE ops_test_parted_p0 PARTITION OF ops_test_parted FOR VALUES FROM (0) TO (10000)"
        )
        cursor.execute("INSERT INTO ops_test_parted SELECT generate_series(1, 500)")
    assert not _has_statistics("ops_test_parted")
    try:
        rows = services.maintenance_run(
            apply=True, steps=("analyze", "retention"), analyze_min_rows=100, analyze_ratio=0.0
        )
        header, analyze, retention = rows
        assert (header.outcome, analyze.outcome, retention.outcome) == ("success",) * 3
        # A partitioned parent without statistics (autovacuum never analyzes parents) is
        # analyzed whatever the statistics collector says about its partitions.
        assert "ops_test_parted" in analyze.details["analyzed"]
        assert _has_statistics("ops_test_parted")
        assert analyze.rows_touched == len(analyze.details["analyzed"])
        assert retention.details["ops.MatviewRefresh"]["deleted"] == 2
        assert MatviewRefresh.objects.count() == 1
        assert MaintenanceRun.objects.filter(run_id=header.run_id).count() == 3
    finally:
        with connections["owner"].cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS ops_test_parted")


def test_a_concurrent_applying_run_is_skipped():
    MaintenanceRun.objects.create(
        run_id="00000000-0000-0000-0000-000000000001",
        step="run",
        applied=True,
        started_at=timezone.now(),
        outcome="running",
    )
    rows = services.maintenance_run(apply=True, steps=("retention",))
    assert [(r.step, r.outcome) for r in rows] == [("run", "skipped")]


def test_a_failing_step_is_logged_and_the_others_still_run(monkeypatch):
    def broken(*, apply):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.maintenance, "_step_retention", broken)
    rows = services.maintenance_run(apply=True, steps=("retention", "vacuum_report"))
    outcomes = {r.step: (r.outcome, r.error) for r in rows}
    assert outcomes["retention"] == ("failed", "RuntimeError: disk on fire")
    assert outcomes["vacuum_report"][0] == "success"
    assert outcomes["run"][0] == "failed"
