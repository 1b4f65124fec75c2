"""Slow queries and Activity show where each statement came from, and filter by it."""

import psycopg
import pytest
from django.db import connection

from apps.dbhealth.checks import queries
from apps.origins import context
from tests.dbhealth.conftest import page_url

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "owner"])


def test_slow_queries_show_and_filter_by_origin(admin_client_dbh):
    # A statement of a shape no other test sends (pg_stat_statements keeps the first text of a
    # shape, and ignores aliases and constants), called often enough not to be evicted.
    probe = (
        "SELECT sum(g) AS origin_page_probe FROM generate_series(1, %s) g"
        " WHERE g % 7 = %s AND g % 11 = %s AND g % 13 = %s"
    ).replace("% ", "%% ")
    with context.bind(route="admin:origin_probe_view"), connection.cursor() as cursor:
        for i in range(50):
            cursor.execute(probe, [100, i % 7, 1, 2])
    filtered = admin_client_dbh.get(page_url("queries"), {"order": "calls", "origin": "PROBE_VIEW"})
    assert filtered.status_code == 200
    kept = filtered.context["report"]["queries"]
    assert [r["origin"] for r in kept] == ["route: admin:origin_probe_view"]
    assert "origin_page_probe" in kept[0]["query"]
    assert b"dbh-origin" in filtered.content
    none = admin_client_dbh.get(page_url("queries"), {"order": "calls", "origin": "no-such-view"})
    assert none.context["report"]["queries"] == []
    assert b"No statement from an origin matching" in none.content


def test_activity_shows_the_origin_of_a_sessions_last_statement(admin_client_dbh):
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT 1 AS probe /*celery_task='ops.refresh_matview'*/")
        page = admin_client_dbh.get(page_url("activity"), {"refresh": "1"})
        backends = page.context["report"]["backends"]
        probe = [b for b in backends if "probe" in (b.get("query") or "")]
        assert probe and probe[0]["origin"] == "celery task: ops.refresh_matview"
        assert probe[0]["origin_tags"] == {"celery_task": "ops.refresh_matview"}
        filtered = admin_client_dbh.get(page_url("activity"), {"origin": "refresh_matview"})
        assert [b["pid"] for b in filtered.context["report"]["backends"]] == [probe[0]["pid"]]


def test_origin_is_read_before_the_text_is_cut():
    row = {"query": "SELECT " + "x, " * 1000, "query_tail": "… FROM t /*command='maintain'*/"}
    queries.add_origin(row)
    assert row["origin"] == "command: maintain" and "query_tail" not in row
