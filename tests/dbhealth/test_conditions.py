"""Each planted condition is visible on its page, in `dbhealth --json`, in /metrics and in Findings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.dbhealth import selectors

from .conftest import SCHEMA, page_url
from .helpers import dbhealth_json, finding_keys, metric_value, metrics_text

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])


def _index(doc: dict, name: str) -> dict:
    rows = [
        i
        for i in doc["sections"]["indexes"]["indexes"]
        if i["schema"] == SCHEMA and i["name"] == name
    ]
    assert len(rows) == 1, name
    return rows[0]


def test_index_rules_on_page_json_metrics_and_findings(scratch, admin_client_dbh):
    page = admin_client_dbh.get(page_url("indexes") + "?refresh=1").content.decode()
    _, doc = dbhealth_json("indexes")

    # Unused: non-unique, 0 scans, no FK to support.
    assert "unused" in _index(doc, "things_code_unused")["flags"]
    assert f"DROP INDEX CONCURRENTLY {SCHEMA}.things_code_unused;" in page
    # Duplicate: (name) is a leading prefix of (name, code).
    dup = _index(doc, "things_name_dup")
    assert "duplicate" in dup["flags"] and dup["covered_by"] == "things_name_code"
    assert "duplicate" not in _index(doc, "things_name_code")["flags"]
    # Near-duplicates are not duplicates: different predicate, different opclass.
    for name in (
        "things_label_all",
        "things_label_active",
        "things_slug_plain",
        "things_slug_pattern",
    ):
        assert "duplicate" not in _index(doc, name)["flags"], name
    # Unique / PK indexes are never proposed for removal.
    assert _index(doc, "things_pkey")["flags"] == []
    # An index supporting a foreign key is not "unused", and that FK is not "unindexed".
    assert "unused" not in _index(doc, "children_ok_parent_idx")["flags"]
    fks = {
        (f["table"], tuple(f["columns"]))
        for f in doc["sections"]["indexes"]["unindexed_foreign_keys"]
    }
    assert ("children", ("parent_id",)) in fks
    assert ("children_ok", ("parent_id",)) not in fks
    assert (
        f"CREATE INDEX CONCURRENTLY children_parent_id_fk_idx ON {SCHEMA}.children (parent_id);"
        in page
    )

    # Invalid: left behind by a failed CREATE INDEX CONCURRENTLY.
    invalid = _index(doc, "things_invalid")
    assert invalid["is_valid"] is False and "invalid" in invalid["flags"]
    assert f"CREATE INDEX CONCURRENTLY things_invalid ON {SCHEMA}.things" in page

    keys = finding_keys(admin_client_dbh)
    assert f"index.invalid:{SCHEMA}.things_invalid" in keys
    assert f"index.unused:{SCHEMA}.things_code_unused" in keys
    assert f"index.duplicate:{SCHEMA}.things_name_dup" in keys
    assert f"fk.unindexed:{SCHEMA}.children.children_parent_id_fkey" in keys
    assert not any(k.startswith("index.duplicate:") and ("label" in k or "slug" in k) for k in keys)

    metrics = metrics_text(admin_client_dbh)
    assert (
        metric_value(metrics, "flowbase_db_unused_index_bytes")
        >= _index(doc, "things_code_unused")["size_bytes"]
        > 0
    )


def test_dead_tuples_on_page_json_metrics_and_findings(scratch, admin_client_dbh):
    page = admin_client_dbh.get(page_url("tables") + "?refresh=1").content.decode()
    assert f'data-table="{SCHEMA}.churn"' in page
    _, doc = dbhealth_json("tables")
    churn = next(
        t
        for t in doc["sections"]["tables"]["tables"]
        if t["schema"] == SCHEMA and t["name"] == "churn"
    )
    assert churn["dead_tuples"] == 4000 and churn["live_tuples"] == 1000
    assert churn["dead_ratio"] == pytest.approx(0.8)
    assert f"table.dead_tuples:{SCHEMA}.churn" in finding_keys(admin_client_dbh)
    metrics = metrics_text(admin_client_dbh)
    assert metric_value(
        metrics, "flowbase_db_table_dead_tuple_ratio", f'table="{SCHEMA}.churn"'
    ) == pytest.approx(0.8)


def test_partitions_rolled_up_runway_and_default_rows(scratch, admin_client_dbh):
    _, doc = dbhealth_json("tables")
    parent = next(
        p
        for p in doc["sections"]["tables"]["partitioned"]
        if p["schema"] == SCHEMA and p["name"] == "events_p"
    )
    assert parent["partitions"] == 2 and parent["ahead"] == 0 and parent["default_rows"] == 5
    rolled = next(
        t
        for t in doc["sections"]["tables"]["tables"]
        if t["schema"] == SCHEMA and t["name"] == "events_p"
    )
    assert rolled["kind"] == "p" and rolled["partitions"] == 2 and rolled["live_tuples"] == 5
    # Partitions are not listed as tables of their own; the parent expands to them.
    assert not any(t["name"].startswith("events_p_") for t in doc["sections"]["tables"]["tables"])
    page = admin_client_dbh.get(
        page_url("tables") + f"?expand={rolled_oid(scratch)}"
    ).content.decode()
    assert f"{SCHEMA}.events_p_default" in page and f"{SCHEMA}.events_p_2020" in page

    keys = finding_keys(admin_client_dbh)
    assert f"partition.default_rows:{SCHEMA}.events_p" in keys
    assert f"partition.no_runway:{SCHEMA}.events_p" in keys
    metrics = metrics_text(admin_client_dbh)
    assert (
        metric_value(metrics, "flowbase_db_partitions_ahead", f'table="{SCHEMA}.events_p"') == 0.0
    )
    assert (
        metric_value(metrics, "flowbase_db_default_partition_rows", f'table="{SCHEMA}.events_p"')
        == 5.0
    )


def rolled_oid(conninfo: str) -> int:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        return conn.execute(f"SELECT '{SCHEMA}.events_p'::regclass::oid::bigint").fetchone()[0]


def test_stale_views_on_page_json_metrics_and_findings(scratch, admin_client_dbh):
    from apps.ops.models import MatviewRefresh

    long_ago = timezone.now() - timedelta(days=3)
    MatviewRefresh.objects.create(
        view_name=f"{SCHEMA}.old_mv",
        started_at=long_ago,
        finished_at=long_ago + timedelta(seconds=1),
        duration_ms=1000,
        rows=1,
        outcome="success",
    )
    page = admin_client_dbh.get(page_url("matviews") + "?refresh=1").content.decode()
    assert f'data-matview="{SCHEMA}.stale_mv"' in page and f'data-matview="{SCHEMA}.old_mv"' in page
    _, doc = dbhealth_json("matviews")
    views = {v["name"]: v for v in doc["sections"]["matviews"]["matviews"] if v["schema"] == SCHEMA}
    assert views["stale_mv"]["stale"] and not views["stale_mv"]["populated"]
    assert views["old_mv"]["stale"] and views["old_mv"]["age_seconds"] > 2 * 86400
    keys = finding_keys(admin_client_dbh)
    assert {f"matview.stale:{SCHEMA}.stale_mv", f"matview.stale:{SCHEMA}.old_mv"} <= keys
    metrics = metrics_text(admin_client_dbh)
    assert metric_value(metrics, "flowbase_db_matview_stale", f'view="{SCHEMA}.stale_mv"') == 1.0
    assert (
        metric_value(metrics, "flowbase_db_matview_age_seconds", f'view="{SCHEMA}.old_mv"')
        > 2 * 86400
    )


def test_overview_and_queries_pages(scratch, admin_client_dbh):
    page = admin_client_dbh.get(page_url("overview") + "?refresh=1").content.decode()
    assert (
        "Heap cache hit ratio" in page
        and "Oldest XID age" in page
        and "Connections by state" in page
    )
    _, doc = dbhealth_json("overview", "queries")
    assert doc["schema_version"] == 1
    assert doc["sections"]["overview"]["size_bytes"] > 0
    q = doc["sections"]["queries"]
    assert q["available"] is True and q["queries"], (
        "pg_stat_statements is preloaded in the local cluster"
    )
    assert abs(sum(r["share"] for r in q["queries"])) <= 1.0001
    page = admin_client_dbh.get(page_url("queries") + "?order=calls&refresh=1").content.decode()
    assert "Share of total" in page


def test_queries_page_says_when_extension_missing(scratch, admin_client_dbh, monkeypatch):
    from apps.dbhealth.checks import queries

    monkeypatch.setattr(
        queries,
        "pg_stat_statements_status",
        lambda: {"installed": False, "preloaded": False, "available": False},
    )
    page = admin_client_dbh.get(page_url("queries") + "?refresh=1").content.decode()
    assert "pg_stat_statements is missing" in page
    assert "settings.pg_stat_statements_missing" in finding_keys(admin_client_dbh)


def test_index_usage_snapshots_survive_a_stats_reset(scratch, admin_client_dbh):
    from apps.dbhealth import services
    from apps.dbhealth.models import IndexUsageSnapshot

    now = timezone.now()
    services.index_usage_snapshot_take(now=now - timedelta(hours=2))
    # Pretend the previous snapshot had seen 500 scans: the current counter (0) is lower → reset.
    IndexUsageSnapshot.objects.filter(schema_name=SCHEMA, index_name="things_code_unused").update(
        idx_scan=500
    )
    services.index_usage_snapshot_take(now=now - timedelta(hours=1))
    last = IndexUsageSnapshot.objects.filter(
        schema_name=SCHEMA, index_name="things_code_unused"
    ).latest("taken_at")
    assert last.reset_detected and last.delta_scans == 0
    # Usage recorded before a reset keeps an index off the "unused" list.
    last.delta_scans = 7
    last.save()
    report = selectors.index_report()
    flags = {i["name"]: i["flags"] for i in report["indexes"] if i["schema"] == SCHEMA}
    assert "unused" not in flags["things_code_unused"]
    page = admin_client_dbh.get(page_url("index-usage")).content.decode()
    assert f'data-index="{SCHEMA}.things_code_unused"' in page and "<polyline" in page


def test_snapshot_detects_a_stats_reset_by_timestamp(scratch, monkeypatch):
    from apps.dbhealth import services
    from apps.dbhealth.checks import indexes
    from apps.dbhealth.models import IndexUsageSnapshot

    now = timezone.now()
    monkeypatch.setattr(indexes, "stats_reset_at", lambda: now - timedelta(days=2))
    services.index_usage_snapshot_take(now=now - timedelta(hours=1))
    monkeypatch.setattr(indexes, "stats_reset_at", lambda: now - timedelta(minutes=5))
    services.index_usage_snapshot_take(now=now)
    rows = IndexUsageSnapshot.objects.filter(schema_name=SCHEMA, taken_at=now)
    assert rows.exists() and all(r.reset_detected and r.delta_scans == r.idx_scan for r in rows)
    first = IndexUsageSnapshot.objects.filter(schema_name=SCHEMA, taken_at=now - timedelta(hours=1))
    assert not any(r.reset_detected for r in first)
