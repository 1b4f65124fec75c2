"""Issue-13 checks: each condition planted in a scratch schema next to a near miss; found by
`manage.py dbhealth --json`; and every DDL fix, taken from that JSON and run as given, makes
its finding go."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.db import conninfo

from .plant import PLANT, admin_conninfo, open_findings, owner_execute, planted, wait_for_stats

# Transactional: a DDL fix run from another connection needs the locks the checks' reads took
# to be released, which a test wrapped in one transaction would hold to its end.
pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"], transaction=True)


@dataclass
class Case:
    id: str
    sql: str
    found: dict[str, str]  # finding key (P. = the plant schema) → severity
    near_miss: list[str]
    settings: dict = field(default_factory=dict)
    fix_contains: dict[str, str] = field(default_factory=dict)


def _k(key: str) -> str:
    return key.replace("P.", f"{PLANT}.")


CASES = [
    Case(
        "unused_duplicate_and_unindexed_fk",
        """
        CREATE TABLE P.parent (id bigint PRIMARY KEY);
        CREATE TABLE P.child (id bigint PRIMARY KEY, parent_id bigint REFERENCES P.parent (id),
                              code text, name text);
        CREATE INDEX child_code ON P.child (code);
        CREATE INDEX child_name ON P.child (name);
        CREATE INDEX child_name_code ON P.child (name, code);
        CREATE TABLE P.child_ok (id bigint PRIMARY KEY, parent_id bigint REFERENCES P.parent (id));
        CREATE INDEX child_ok_parent ON P.child_ok (parent_id);
        """,
        {
            "index.unused:P.child_code": "info",
            "index.duplicate:P.child_name": "warning",
            "fk.unindexed:P.child.child_parent_id_fkey": "warning",
        },
        ["index.unused:P.child_ok_parent", "fk.unindexed:P.child_ok.child_ok_parent_id_fkey"],
    ),
    Case(
        "dead_tuples",
        """
        CREATE TABLE P.churn (id int PRIMARY KEY, pad text) WITH (autovacuum_enabled = false);
        INSERT INTO P.churn SELECT g, repeat('x', 50) FROM generate_series(1, 5000) g;
        DELETE FROM P.churn WHERE id > 1000;
        SELECT pg_stat_force_next_flush();
        """,
        {"table.dead_tuples:P.churn": "critical"},
        [],
    ),
    Case(
        "sequence_exhaustion",
        """
        CREATE TABLE P.seq_serial (id serial PRIMARY KEY);
        SELECT setval('P.seq_serial_id_seq', 2147000000);
        CREATE SEQUENCE P.big_seq AS bigint;
        CREATE TABLE P.seq_narrow (id int PRIMARY KEY DEFAULT nextval('P.big_seq'));
        SELECT setval('P.big_seq', 2000000000);
        CREATE TABLE P.seq_ok (id serial PRIMARY KEY);
        SELECT setval('P.seq_ok_id_seq', 1000);
        CREATE SEQUENCE P.big_ok AS bigint;
        CREATE TABLE P.seq_wide (id bigint PRIMARY KEY DEFAULT nextval('P.big_ok'));
        SELECT setval('P.big_ok', 2000000000);
        """,
        {
            "sequence.exhaustion:P.seq_serial_id_seq": "critical",
            "sequence.exhaustion:P.big_seq": "critical",
        },
        ["sequence.exhaustion:P.seq_ok_id_seq", "sequence.exhaustion:P.big_ok"],
        fix_contains={"sequence.exhaustion:P.big_seq": "ALTER COLUMN id TYPE bigint"},
    ),
    Case(
        "not_valid_constraint",
        """
        CREATE TABLE P.nv (id int PRIMARY KEY, n int);
        INSERT INTO P.nv VALUES (1, 5);
        ALTER TABLE P.nv ADD CONSTRAINT nv_positive CHECK (n > 0) NOT VALID;
        ALTER TABLE P.nv ADD CONSTRAINT nv_small CHECK (n < 100);
        CREATE TABLE P.nv_ref (id int PRIMARY KEY);
        ALTER TABLE P.nv_ref ADD FOREIGN KEY (id) REFERENCES P.nv (id) NOT VALID;
        """,
        {
            "constraint.not_valid:P.nv.nv_positive": "info",
            "constraint.not_valid:P.nv_ref.nv_ref_id_fkey": "info",
        },
        ["constraint.not_valid:P.nv.nv_small"],
        fix_contains={"constraint.not_valid:P.nv.nv_positive": "SHARE UPDATE EXCLUSIVE"},
    ),
    Case(
        "no_primary_key",
        """
        CREATE TABLE P.nopk (a int, b text);
        CREATE TABLE P.nopk_unique (a int NOT NULL);
        CREATE UNIQUE INDEX nopk_unique_a ON P.nopk_unique (a);
        CREATE TABLE P.nopk_full (a int);
        ALTER TABLE P.nopk_full REPLICA IDENTITY FULL;
        CREATE TABLE P.haspk (id int PRIMARY KEY);
        """,
        {
            "table.no_primary_key:P.nopk": "warning",
            "table.no_primary_key:P.nopk_unique": "warning",
            "table.no_primary_key:P.nopk_full": "info",
        },
        ["table.no_primary_key:P.haspk"],
        fix_contains={
            "table.no_primary_key:P.nopk_unique": "PRIMARY KEY USING INDEX nopk_unique_a"
        },
    ),
    Case(
        "fk_type_mismatch",
        """
        CREATE TABLE P.ref (id bigint PRIMARY KEY);
        CREATE TABLE P.fk_narrow (id int PRIMARY KEY, ref_id int REFERENCES P.ref (id));
        CREATE TABLE P.fk_same (id int PRIMARY KEY, ref_id bigint REFERENCES P.ref (id));
        """,
        {"fk.type_mismatch:P.fk_narrow.fk_narrow_ref_id_fkey.ref_id": "warning"},
        ["fk.type_mismatch:P.fk_same.fk_same_ref_id_fkey.ref_id"],
    ),
    Case(
        "duplicate_foreign_key",
        """
        CREATE TABLE P.ref (id bigint PRIMARY KEY);
        CREATE TABLE P.fk_dup (id int PRIMARY KEY, ref_id bigint);
        ALTER TABLE P.fk_dup ADD CONSTRAINT fk_dup_a FOREIGN KEY (ref_id) REFERENCES P.ref (id);
        ALTER TABLE P.fk_dup ADD CONSTRAINT fk_dup_b FOREIGN KEY (ref_id) REFERENCES P.ref (id);
        CREATE TABLE P.fk_single (id int PRIMARY KEY, ref_id bigint REFERENCES P.ref (id));
        """,
        {"fk.duplicate:P.fk_dup.fk_dup_b": "warning"},
        ["fk.duplicate:P.fk_dup.fk_dup_a", "fk.duplicate:P.fk_single.fk_single_ref_id_fkey"],
    ),
    Case(
        "btree_on_array_or_jsonb",
        """
        CREATE TABLE P.docs (id int PRIMARY KEY, tags text[], body jsonb, title text);
        CREATE INDEX docs_tags_btree ON P.docs (tags);
        CREATE INDEX docs_body_btree ON P.docs (body);
        CREATE INDEX docs_title ON P.docs (title);
        CREATE INDEX docs_tags_gin ON P.docs USING gin (tags);
        """,
        {
            "index.btree_container:P.docs_tags_btree": "info",
            "index.btree_container:P.docs_body_btree": "info",
        },
        ["index.btree_container:P.docs_title", "index.btree_container:P.docs_tags_gin"],
        fix_contains={"index.btree_container:P.docs_tags_btree": "USING gin (tags)"},
    ),
    Case(
        "direction_only_duplicate",
        """
        CREATE TABLE P.sorted (id int PRIMARY KEY, v int, w int);
        CREATE INDEX sorted_v ON P.sorted (v);
        CREATE INDEX sorted_v_desc ON P.sorted (v DESC);
        CREATE INDEX sorted_w ON P.sorted (w);
        CREATE INDEX sorted_w_desc_nulls_last ON P.sorted (w DESC NULLS LAST);
        """,
        {"index.desc_duplicate:P.sorted_v_desc": "warning"},
        [
            "index.desc_duplicate:P.sorted_v",
            "index.desc_duplicate:P.sorted_w",
            "index.desc_duplicate:P.sorted_w_desc_nulls_last",
        ],
    ),
    Case(
        "leading_column_mostly_null",
        """
        CREATE TABLE P.sparse (id int PRIMARY KEY, rare int, common int);
        INSERT INTO P.sparse SELECT g, CASE WHEN g % 20 = 0 THEN g END,
                                       CASE WHEN g % 3 = 0 THEN NULL ELSE g END
        FROM generate_series(1, 20000) g;
        CREATE INDEX sparse_rare ON P.sparse (rare);
        CREATE INDEX sparse_common ON P.sparse (common);
        ANALYZE P.sparse;
        """,
        {"index.mostly_null:P.sparse_rare": "info"},
        ["index.mostly_null:P.sparse_common", "index.mostly_null:P.sparse_pkey"],
        fix_contains={"index.mostly_null:P.sparse_rare": "WHERE rare IS NOT NULL"},
    ),
    Case(
        "unused_partitioned_index",
        """
        CREATE TABLE P.parts (id bigint, v int, at date NOT NULL) PARTITION BY RANGE (at);
        CREATE TABLE P.parts_2020 PARTITION OF P.parts FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
        CREATE INDEX parts_v_idx ON P.parts (v);
        """,
        {"index.unused:P.parts_v_idx": "info"},
        ["index.unused:P.parts_2020_v_idx"],
        fix_contains={"index.unused:P.parts_v_idx": "ACCESS EXCLUSIVE"},
    ),
    Case(
        "autovacuum_disabled",
        """
        CREATE TABLE P.noav (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
        CREATE TABLE P.noav_toast (id int PRIMARY KEY, t text) WITH (toast.autovacuum_enabled = false);
        CREATE TABLE P.av (id int PRIMARY KEY) WITH (fillfactor = 90, autovacuum_enabled = true);
        """,
        {
            "table.autovacuum_disabled:P.noav": "warning",
            "table.autovacuum_disabled:P.noav_toast": "warning",
        },
        ["table.autovacuum_disabled:P.av"],
    ),
    Case(
        "unlogged_table",
        """
        CREATE UNLOGGED TABLE P.scratchpad (id int PRIMARY KEY);
        CREATE TABLE P.logged (id int PRIMARY KEY);
        """,
        {"table.unlogged:P.scratchpad": "info"},
        ["table.unlogged:P.logged"],
    ),
    Case(
        "table_and_index_bloat",
        """
        CREATE TABLE P.bloated (id int PRIMARY KEY, pad text);
        INSERT INTO P.bloated SELECT g, repeat('x', 200) FROM generate_series(1, 100000) g;
        DELETE FROM P.bloated WHERE id % 10 <> 0;
        VACUUM ANALYZE P.bloated;
        CREATE TABLE P.compact (id int PRIMARY KEY, pad text);
        INSERT INTO P.compact SELECT g, repeat('x', 200) FROM generate_series(1, 10000) g;
        VACUUM ANALYZE P.compact;
        """,
        {"table.bloat:P.bloated": "warning", "index.bloat:P.bloated_pkey": "warning"},
        ["table.bloat:P.compact", "index.bloat:P.compact_pkey"],
        settings={"BLOAT_MIN_BYTES": 512 * 1024},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_planted_condition_found_and_its_fix_runs_as_given(case, settings):
    settings.DBHEALTH = {**settings.DBHEALTH, **case.settings}
    owner = conninfo("owner")
    with planted(case.sql, owner=owner):
        before = _found_eventually(case)
        for key, severity in case.found.items():
            item = before.get(_k(key))
            assert item is not None, f"{key} not found"
            assert item["severity"] == severity, key
            assert item["evidence"], key
        for key in case.near_miss:
            assert _k(key) not in before, f"near miss {key} was flagged"
        for key, text in case.fix_contains.items():
            assert text in before[_k(key)]["suggested_fix"], key
        for key in case.found:  # PostgreSQL refuses CONCURRENTLY on a partitioned index
            if key.startswith("index.unused:P.parts"):
                assert "DROP INDEX CONCURRENTLY" not in before[_k(key)]["suggested_fix"]
        for key in case.found:
            owner_execute(before[_k(key)]["suggested_fix"], conninfo=owner)
            assert _gone(_k(key)), f"{key} still open after its fix"


def _found_eventually(case: Case, tries: int = 40) -> dict:
    """Open findings once every planted key shows (the planting backend's statistics are
    published when it has gone)."""
    import time

    for _ in range(tries):
        found = open_findings()
        if all(_k(k) in found for k in case.found):
            return found
        time.sleep(0.25)
    return found


def _gone(key: str, tries: int = 20) -> bool:
    """Statistics a fix changes (VACUUM's dead-tuple count) are published asynchronously."""
    import time

    for _ in range(tries):
        if key not in open_findings():
            return True
        time.sleep(0.25)
    return False


def test_seq_scan_heavy_table_of_meaningful_size(settings):
    settings.DBHEALTH = {**settings.DBHEALTH, "SEQ_SCAN_MIN_BYTES": 1024 * 1024, "SEQ_SCAN_MIN": 20}
    owner = conninfo("owner")
    sql = """
        CREATE TABLE P.scanned (id int, pad text);
        INSERT INTO P.scanned SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
        CREATE TABLE P.scanned_small (id int);
        INSERT INTO P.scanned_small SELECT g FROM generate_series(1, 100) g;
        CREATE TABLE P.scanned_rarely (id int, pad text);
        INSERT INTO P.scanned_rarely SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
    """
    with planted(sql, owner=owner):
        import psycopg

        with psycopg.connect(owner, autocommit=True) as conn:
            for _ in range(25):
                conn.execute(f"SELECT count(*) FROM {PLANT}.scanned")
                conn.execute(f"SELECT count(*) FROM {PLANT}.scanned_small")
            for _ in range(3):
                conn.execute(f"SELECT count(*) FROM {PLANT}.scanned_rarely")
            conn.execute("SELECT pg_stat_force_next_flush()")
        wait_for_stats(
            owner, f"SELECT pg_stat_get_numscans('{PLANT}.scanned'::regclass)", lambda n: n >= 25
        )
        found = open_findings()
        item = found[_k("table.seq_scan_heavy:P.scanned")]
        assert item["severity"] == "info" and item["evidence"]["seq_scan"] >= 25
        assert _k("table.seq_scan_heavy:P.scanned_small") not in found  # too small to matter
        assert _k("table.seq_scan_heavy:P.scanned_rarely") not in found  # too few scans


def test_idle_in_transaction_and_long_transactions_say_terminate(settings, admin_client_dbh):
    import threading
    import time

    import psycopg

    settings.DBHEALTH = {
        **settings.DBHEALTH,
        "IDLE_IN_TRANSACTION_SECONDS": 1,
        "LONG_TRANSACTION_SECONDS": 2,
    }
    app = conninfo()
    idle_tx = psycopg.connect(app)  # BEGIN; SELECT 1; then nothing: idle in transaction
    idle_tx.execute("SELECT 1")
    idle_pid = idle_tx.info.backend_pid
    idle_ok = psycopg.connect(app, autocommit=True)  # idle, no transaction: the near miss
    idle_ok.execute("SELECT 1")
    busy = psycopg.connect(app)
    busy_pid = busy.info.backend_pid
    worker = threading.Thread(target=lambda: busy.execute("SELECT pg_sleep(6)"), daemon=True)
    worker.start()
    try:
        time.sleep(2.5)
        found = open_findings()
        idle = found[f"activity.idle_in_transaction:{idle_pid}"]
        assert (
            "terminate" in idle["suggested_fix"]
            and "pg_cancel_backend" not in idle["suggested_fix"]
        )
        long = found[f"activity.long_transaction:{busy_pid}"]
        assert "terminate" in long["suggested_fix"]
        assert not any(k.endswith(f":{idle_ok.info.backend_pid}") for k in found)
        # The fix, through the audited path the finding names.
        response = admin_client_dbh.post(
            f"/admin/dbhealth/databasehealth/activity/{idle_pid}/terminate/"
        )
        assert response.status_code == 302
        assert f"activity.idle_in_transaction:{idle_pid}" not in open_findings()
    finally:
        worker.join(10)
        for conn in (idle_tx, idle_ok, busy):
            conn.close()


def test_table_xid_age_against_its_freeze_limit(settings):
    import psycopg

    owner = conninfo("owner")
    with planted("CREATE TABLE P.old_t (id int PRIMARY KEY);", owner=owner):
        with psycopg.connect(owner, autocommit=True) as conn:
            for _ in range(30):  # each burns one transaction ID
                conn.execute("SELECT txid_current()")
            conn.execute(f"CREATE TABLE {PLANT}.young_t (id int PRIMARY KEY)")
            old_age = conn.execute(
                f"SELECT age(relfrozenxid) FROM pg_class WHERE oid = '{PLANT}.old_t'::regclass"
            ).fetchone()[0]
        settings.DBHEALTH = {**settings.DBHEALTH, "TABLE_XID_AGE_WARNING": old_age - 10}
        found = open_findings()
        item = found[_k("table.xid_age:P.old_t")]
        assert item["evidence"]["age"] >= old_age and "VACUUM (FREEZE" in item["suggested_fix"]
        assert _k("table.xid_age:P.young_t") not in found
        owner_execute(item["suggested_fix"], conninfo=owner)
        assert _k("table.xid_age:P.old_t") not in open_findings()


def test_database_xid_and_mxid_age_against_the_thresholds(settings):
    found = open_findings()
    assert "database.mxid_age" not in found and "database.xid_age" not in found
    settings.DBHEALTH = {**settings.DBHEALTH, "XID_AGE_WARNING": 0}
    found = open_findings()
    assert {"database.mxid_age", "database.xid_age"} <= set(found)
    assert found["database.mxid_age"]["evidence"]["multixact_freeze_max_age"] > 0


def test_replication_slot_holding_wal():
    import psycopg

    admin = admin_conninfo()
    if admin is None:
        pytest.skip("needs the local cluster's superuser (FLOWBASE_ADMIN_DATABASE_URL)")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_create_physical_replication_slot('dbh_plant_slot', true)")
        conn.execute("SELECT pg_create_physical_replication_slot('dbh_plant_lazy', false)")
    try:
        found = open_findings()
        item = found["replication.slot:dbh_plant_slot"]
        assert item["evidence"]["active"] is False and item["evidence"]["retained_bytes"] > 0
        assert "replication.slot:dbh_plant_lazy" not in found  # reserves no WAL yet
        owner_execute(item["suggested_fix"], conninfo=admin)
        assert "replication.slot:dbh_plant_slot" not in open_findings()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name IN ('dbh_plant_slot', 'dbh_plant_lazy')"
            )


def test_stale_matview_fix_from_json_refreshes_it():
    from datetime import timedelta

    from django.utils import timezone

    from apps.ops.models import MatviewRefresh

    owner = conninfo("owner")
    with planted("CREATE MATERIALIZED VIEW P.daily_mv AS SELECT 1 AS x;", owner=owner):
        long_ago = timezone.now() - timedelta(days=3)
        MatviewRefresh.objects.create(
            view_name=f"{PLANT}.daily_mv",
            started_at=long_ago,
            finished_at=long_ago + timedelta(seconds=1),
            duration_ms=1000,
            rows=1,
            outcome="success",
        )
        key = f"matview.stale:{PLANT}.daily_mv"
        fix = open_findings()[key]["suggested_fix"]
        assert fix.startswith(f"REFRESH MATERIALIZED VIEW {PLANT}.daily_mv;")
        owner_execute(fix, conninfo=owner)
        assert key not in open_findings()


# Kinds whose fix is DDL, and where a test plants the condition and runs that fix.
DDL_FIX_TESTS = {
    **{k.split(":")[0]: "CASES" for c in CASES for k in c.found},
    "index.invalid": "test_verdicts::test_invalid_unique_index_fix_finds_the_duplicates_first",
    "table.xid_age": "test_table_xid_age_against_its_freeze_limit",
    "replication.slot": "test_replication_slot_holding_wal",
    "matview.stale": "test_stale_matview_fix_from_json_refreshes_it",
    "drift.": "test_drift::test_missing_index_fix_from_dbhealth_json_recreates_it",
    "index.suggested": "test_suggested_indexes::test_planted_seq_scan_gets_a_hypothetical_index",
}
# Kinds whose fix is not DDL (a command, a terminate through the admin, advice) or that cannot be
# planted on a test cluster (wraparound needs ~200 M transactions).
NOT_DDL = {
    "activity.blocking", "activity.idle_in_transaction", "activity.long_transaction",
    "table.seq_scan_heavy", "fk.intersected", "partition.default_rows", "partition.no_runway",
    "matview.missing", "settings", "quality.failed", "quality.error", "database.xid_age",
    "database.mxid_age", "table.mxid_age", "database.connections", "replication.lag",
}  # fmt: skip


def test_every_ddl_fix_kind_has_a_planted_fix_test():
    from apps.dbhealth import sections
    from apps.dbhealth.checks.base import CHECKS

    sections._load_checks()
    registered = {kind for checks in CHECKS.values() for c in checks for kind in c.kinds}
    missing = registered - set(DDL_FIX_TESTS) - NOT_DDL
    assert not missing, f"checks without a planted fix test: {sorted(missing)}"


def test_intersected_foreign_key_is_reported_for_review():
    owner = conninfo("owner")
    sql = """
        CREATE TABLE P.ref2 (id bigint PRIMARY KEY, k int, UNIQUE (id, k));
        CREATE TABLE P.both (id int PRIMARY KEY, ref_id bigint, ref_k int);
        ALTER TABLE P.both ADD CONSTRAINT both_narrow FOREIGN KEY (ref_id) REFERENCES P.ref2 (id);
        ALTER TABLE P.both ADD CONSTRAINT both_wide FOREIGN KEY (ref_id, ref_k)
            REFERENCES P.ref2 (id, k);
    """
    with planted(sql, owner=owner):
        found = open_findings()
        item = found[_k("fk.intersected:P.both.both_narrow")]
        assert item["severity"] == "info" and item["evidence"]["wider"] == "both_wide"
        assert item["suggested_fix"].startswith("-- review")  # advice, not DDL: MATCH SIMPLE
        assert _k("fk.intersected:P.both.both_wide") not in found
        assert _k("fk.duplicate:P.both.both_narrow") not in found
