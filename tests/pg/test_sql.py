from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from apps.pg import catalog, locks, sql
from apps.pg.errors import LOCK_NOT_AVAILABLE, QUERY_CANCELED, sqlstate
from apps.pg.values import jsonable, parse_id

pytestmark = pytest.mark.django_db


def _setting(name: str) -> str:
    return sql.fetch_one("SELECT current_setting(%s) AS v", [name])["v"]


def test_fetch_returns_dicts_and_runs_in_the_callers_transaction():
    assert sql.fetch("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'") == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
    ]
    assert sql.fetch_one("SELECT 1 AS a WHERE false") is None
    assert sql.fetch("SELECT set_config('flowbase.probe', 'kept', true)")  # plain: not rolled back
    assert _setting("flowbase.probe") == "kept"


def test_timeouts_apply_to_the_statement_and_are_gone_afterwards():
    before = _setting("statement_timeout"), _setting("lock_timeout")
    row = sql.fetch_one(
        "SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt",
        timeout_ms=1234,
        lock_timeout_ms=567,
    )
    assert row == {"st": "1234ms", "lt": "567ms"}
    assert (_setting("statement_timeout"), _setting("lock_timeout")) == before


def test_a_statement_over_its_timeout_is_cancelled():
    with pytest.raises(DatabaseError) as caught:
        sql.fetch("SELECT pg_sleep(2)", timeout_ms=50)
    assert sqlstate(caught.value) == QUERY_CANCELED
    assert sql.fetch_one("SELECT 1 AS ok") == {"ok": 1}  # the caller's transaction survives


def test_read_only_refuses_writes_and_ends_with_the_call():
    with pytest.raises(DatabaseError, match="read-only transaction"):
        sql.fetch("CREATE TEMPORARY TABLE pg_floor_probe (id int)", read_only=True)
    assert _setting("transaction_read_only") == "off"
    sql.execute("CREATE TEMPORARY TABLE pg_floor_probe (id int)")
    assert sql.execute("INSERT INTO pg_floor_probe VALUES (1), (2)") == 2


def test_quoting_doubles_embedded_quotes():
    assert sql.quote("events_event") == '"events_event"'
    assert sql.quote("archive", 'we"ird') == '"archive"."we""ird"'
    assert (
        sql.as_string(sql.SQL("SELECT * FROM {}").format(sql.ident("a b"))) == 'SELECT * FROM "a b"'
    )


def test_table_columns_in_order_with_quoted_names_and_none_when_missing():
    columns = catalog.table_columns("projects_project")
    assert columns[0].name == "id" and columns[0].type == "bigint"
    assert all(c.quoted == c.name for c in columns if c.name.islower() and c.name.isidentifier())
    assert catalog.table_columns("no_such_table_anywhere") is None
    assert catalog.schema_of("projects_project") == "public"


HOLDERS = """
SELECT count(*) AS n FROM pg_locks
WHERE locktype = 'advisory' AND classid = (%(key)s >> 32) AND objid = (%(key)s & 4294967295)
"""


@pytest.mark.django_db(transaction=True)
def test_xact_locks_need_a_transaction_and_end_with_it():
    with pytest.raises(RuntimeError, match="needs a transaction"):
        locks.try_xact_lock("probe")
    key = locks.lock_key("probe")
    assert key == locks.lock_key("probe") and key != locks.lock_key("probe", namespace="other")
    with transaction.atomic():
        assert locks.try_xact_lock("probe")
        assert sql.fetch_one(HOLDERS, {"key": key})["n"] == 1
    assert sql.fetch_one(HOLDERS, {"key": key})["n"] == 0  # gone with the transaction


def test_lock_timeout_gives_up_behind_a_held_lock():
    # Another session holds the table; a lock_timeout'd read gives up with 55P03.
    from django.db import connections

    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        other.connection.autocommit = False
        with other.connection.cursor() as cursor:
            cursor.execute("LOCK TABLE projects_project IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(DatabaseError) as caught:
            sql.catalog_fetch("SELECT count(*) FROM projects_project", lock_timeout_ms=100)
        assert sqlstate(caught.value) == LOCK_NOT_AVAILABLE
    finally:
        other.connection.rollback()
        other.close()


def test_jsonable_gives_plain_json_for_jsonb():
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert jsonable(
        {
            1: (moment, date(2026, 1, 2)),
            "d": Decimal("1.50"),
            "t": timedelta(minutes=1),
            "nan": float("nan"),
            "ok": [True, None, 2, 1.5, "s"],
        }
    ) == {
        "1": ["2026-01-02T03:04:05.678901+00:00", "2026-01-02"],
        "d": "1.50",
        "t": "P0DT00H01M00S",
        "nan": "nan",
        "ok": [True, None, 2, 1.5, "s"],
    }


def test_parse_id_accepts_only_positive_ascii_bigints():
    assert parse_id(" 42 ") == 42
    assert [parse_id(t) for t in ("0", "-1", "²", "٣", "9" * 19, "1e3")] == [None] * 6
    assert connection.vendor == "postgresql"
