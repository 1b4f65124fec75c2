"""Suggested indexes: a planted seq-scanning SELECT from pg_stat_statements gets a HypoPG-checked
index on its filter column (and not on a column it does not filter by); without HypoPG the
section says so."""

from __future__ import annotations

import psycopg
import pytest

from apps.dbhealth import sections
from apps.dbhealth.checks import suggested_indexes as si
from apps.dbhealth.runner import fetch
from tests.db import conninfo

from .plant import owner_execute, planted

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"], transaction=True)

PLANT_SQL = """
CREATE TABLE P.orders (id bigint PRIMARY KEY, customer_code text NOT NULL, note text);
INSERT INTO P.orders SELECT g, 'c' || (g % 5000), repeat('x', 40) FROM generate_series(1, 50000) g;
ANALYZE P.orders;
"""
QUERY = "SELECT id, note FROM dbh_plant.orders o WHERE o.customer_code = %s AND o.id > %s"


def test_predicates_from_the_where_clause():
    preds = si.predicates(
        "SELECT * FROM public.t x WHERE x.a = $1 AND (x.b > $2 OR c IS NULL) LIMIT $3"
    )
    assert preds == [("public.t", "a", "eq"), ("public.t", "b", "range"), ("public.t", "c", "eq")]
    assert si.candidates(preds)["public.t"] == [("a",), ("c",), ("b",), ("a", "c", "b")]
    assert si.predicates("UPDATE t SET a = 1 WHERE b = $1") == []


class _Cursor:
    def execute(self, *_args):
        pass


@pytest.mark.parametrize(("before", "after", "suggested"), [(0.0, 0.0, False), (100.0, 40.0, True)])
def test_only_a_real_saving_is_suggested(monkeypatch, before, after, suggested):
    # A plan costing nothing with or without the index (a one-row table read by its key) was
    # suggested as "cuts the cost by 0%".
    plans = iter([before, after])
    monkeypatch.setattr(
        si,
        "_plan",
        lambda cursor, n: {
            "Node Type": "Seq Scan",
            "Relation Name": "t",
            "Schema": "public",
            "Total Cost": next(plans, after),
        },
    )
    q = {
        "query": "SELECT * FROM public.t x WHERE x.a = $1",
        "queryid": 1,
        "calls": 9,
        "total_ms": 5,
    }
    assert bool(si._try_query(_Cursor(), q, 0.5)) is suggested


def test_planted_seq_scan_gets_a_hypothetical_index():
    with planted(PLANT_SQL, owner=conninfo("owner")):
        with psycopg.connect(conninfo()) as conn:
            for i in range(20):
                conn.execute(QUERY, [f"c{i}", 0]).fetchall()
        rows = fetch(
            "SELECT queryid, query, calls, total_exec_time AS total_ms FROM pg_stat_statements"
            " WHERE query LIKE %s LIMIT 1",
            ["SELECT id, note FROM dbh_plant.orders o WHERE%"],
        )
        assert rows and "$1" in rows[0]["query"]
        found = si.suggest(rows)
        # The equality column leads; the range column joins it when that is clearly cheaper.
        assert [(s["table"], s["columns"][0]) for s in found] == [
            ("dbh_plant.orders", "customer_code")
        ]
        s = found[0]
        print(f"cost before {s['cost_before']} after {s['cost_after']} saving {s['saving']}")
        assert s["cost_after"] <= s["cost_before"] * 0.5
        cols = ", ".join(s["columns"])
        assert s["ddl"] == f"CREATE INDEX CONCURRENTLY ON dbh_plant.orders ({cols});"
        # The probe left nothing behind: no hypothetical index, no prepared statement.
        from django.db import connections

        with connections["readonly"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM hypopg()")
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone()[0] == 0
        # Its fix, run as given, makes the query cheap: nothing more is suggested for it.
        owner_execute(s["ddl"], conninfo=conninfo("owner"))
        assert si.suggest(rows) == []


def test_without_hypopg_the_section_says_so(monkeypatch):
    monkeypatch.setattr(
        si, "HYPOPG_SQL", "SELECT 1 FROM pg_extension WHERE extname = 'no_such' LIMIT 1"
    )
    report = sections.build("suggested_indexes")
    assert report["available"] is False and "HypoPG is not installed" in report["message"]
    assert report["suggestions"] == [] and report["findings"] == []
