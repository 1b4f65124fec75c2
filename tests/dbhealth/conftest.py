"""Planted conditions in a scratch schema of the test database (never on the app's tables).

The schema is created once per session through a separate autocommit psycopg connection, so
the objects are committed and visible to every connection (the test's, the lock threads').
It is created by the owner (the app cannot run DDL) and granted like domain tables: DML to the
app, SELECT to the read-only role (plus USAGE on its sequence, so that a nextval() in a check
meets the READ ONLY transaction, the sandbox's second fence). The tests get the app's login.
"""

from __future__ import annotations

import contextlib
import time

import psycopg
import pytest

from apps.dbhealth.sections import SECTIONS
from tests.db import conninfo

SCHEMA = "dbh_scratch"

PLANT_SQL = f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};

-- Indexes: unused, duplicate (prefix), and near-duplicates that are NOT duplicates.
CREATE TABLE {SCHEMA}.things (
    id bigint PRIMARY KEY, name text, code text, label text, slug text, active boolean
) WITH (autovacuum_enabled = false);
INSERT INTO {SCHEMA}.things
SELECT g, 'n' || g, 'c' || g, 'l' || g, 's' || g, g % 2 = 0 FROM generate_series(1, 2000) g;
CREATE INDEX things_code_unused ON {SCHEMA}.things (code);
CREATE INDEX things_name_dup ON {SCHEMA}.things (name);
CREATE INDEX things_name_code ON {SCHEMA}.things (name, code);
CREATE INDEX things_label_all ON {SCHEMA}.things (label);
CREATE INDEX things_label_active ON {SCHEMA}.things (label) WHERE active;
CREATE INDEX things_slug_plain ON {SCHEMA}.things (slug);
CREATE INDEX things_slug_pattern ON {SCHEMA}.things (slug text_pattern_ops);

-- Foreign keys: one without an index, one with a supporting index.
CREATE TABLE {SCHEMA}.parents (id bigint PRIMARY KEY);
CREATE TABLE {SCHEMA}.children (id bigint PRIMARY KEY, parent_id bigint REFERENCES {SCHEMA}.parents (id));
CREATE TABLE {SCHEMA}.children_ok (id bigint PRIMARY KEY, parent_id bigint REFERENCES {SCHEMA}.parents (id));
CREATE INDEX children_ok_parent_idx ON {SCHEMA}.children_ok (parent_id);

-- Dead tuples: 80 % of the rows deleted, autovacuum off.
CREATE TABLE {SCHEMA}.churn (id int, pad text) WITH (autovacuum_enabled = false);
INSERT INTO {SCHEMA}.churn SELECT g, repeat('x', 50) FROM generate_series(1, 5000) g;
DELETE FROM {SCHEMA}.churn WHERE id > 1000;

-- Stale views: never populated; and populated (freshness from the refresh log).
CREATE MATERIALIZED VIEW {SCHEMA}.stale_mv AS SELECT 1 AS x WITH NO DATA;
CREATE MATERIALIZED VIEW {SCHEMA}.old_mv AS SELECT 1 AS x;

-- Partitions: only past ranges (no runway) and rows in the default partition.
CREATE TABLE {SCHEMA}.events_p (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
CREATE TABLE {SCHEMA}.events_p_2020 PARTITION OF {SCHEMA}.events_p
    FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE {SCHEMA}.events_p_default PARTITION OF {SCHEMA}.events_p DEFAULT;
INSERT INTO {SCHEMA}.events_p SELECT g, now() - g * interval '1 minute' FROM generate_series(1, 5) g;

-- Locks.
CREATE TABLE {SCHEMA}.lockme (id int PRIMARY KEY, v int);
INSERT INTO {SCHEMA}.lockme VALUES (1, 0);

-- Data quality: one table with failing rows for every kind.
CREATE TABLE {SCHEMA}.dq_parents (id bigint PRIMARY KEY);
INSERT INTO {SCHEMA}.dq_parents VALUES (1), (2);
CREATE TABLE {SCHEMA}.dq_items (
    id bigint PRIMARY KEY, title text, name text, email text, score int, status text,
    parent_id bigint, created_at timestamptz NOT NULL
);
INSERT INTO {SCHEMA}.dq_items VALUES
    (1, 'ok', 'Alpha', 'a@example.com', 10, 'open', 1, now() - interval '10 days'),
    (2, NULL, 'alpha', 'b@example.com', 50, 'open', 2, now() - interval '10 days'),
    (3, '  ', 'Beta', 'not-an-email', 150, 'weird', 99, now() - interval '11 days'),
    (4, 'fine', 'Gamma', 'c@example.com', -5, 'closed', NULL, now() - interval '12 days');
CREATE SEQUENCE {SCHEMA}.dq_seq;
"""

# As domain tables are granted: {app} names the app login and its all-projects role.
GRANTS_SQL = """
GRANT USAGE ON SCHEMA {schema} TO {app}, {readonly};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {readonly};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {app}, {readonly};
"""


@pytest.fixture(scope="session")
def scratch(django_db_setup, django_db_blocker):
    """Create the scratch schema in the test database; drop it at the end of the session."""
    from apps.core.roles.config import roles

    with django_db_blocker.unblock():
        app_conninfo, owner_conninfo = conninfo(), conninfo("owner")
    r = roles()
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        conn.execute(PLANT_SQL)
        conn.execute(
            GRANTS_SQL.format(schema=SCHEMA, app=", ".join(r.app_like()), readonly=r.readonly)
        )
        # A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind.
        with contextlib.suppress(psycopg.errors.DivisionByZero):
            conn.execute(
                f"CREATE INDEX CONCURRENTLY things_invalid ON {SCHEMA}.things ((1 / (id - 1000)))"
            )
        conn.execute("SELECT pg_stat_force_next_flush()")
    # The planting backend publishes its statistics when it exits: wait until they are visible.
    with psycopg.connect(app_conninfo, autocommit=True) as conn:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            dead = conn.execute(
                f"SELECT pg_stat_get_dead_tuples('{SCHEMA}.churn'::regclass)"
            ).fetchone()[0]
            if dead >= 4000:
                break
            time.sleep(0.05)
    yield app_conninfo
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


@pytest.fixture(scope="session", autouse=True)
def _shipped_rows(django_db_setup, django_db_blocker):
    """A transactional test (live_server) flushes every table at its end, so a --reuse-db
    session can start without the rows data migration 0002 shipped: re-apply it then."""
    import pgtrigger
    from django.contrib.auth.models import Group

    from tests.conftest import SHIPPED_ROWS_UNAUDITED

    from .helpers import apply_shipped_migration

    with django_db_blocker.unblock():
        if not Group.objects.filter(name="Database operators").exists():
            with pgtrigger.ignore(*SHIPPED_ROWS_UNAUDITED):
                apply_shipped_migration()


@pytest.fixture(autouse=True)
def _dbhealth_settings(settings):
    # Fresh test databases have no statistics history: the observation window is tested apart.
    settings.DBHEALTH = {
        "UNUSED_INDEX_MIN_BYTES": 0,
        "WORST_TABLES_METRICS": 1000,
        "UNUSED_MIN_DAYS": 0,
    }


@pytest.fixture(autouse=True)
def _primary_index_usage_only(monkeypatch):
    # The standby pass configures a replica that these tests neither plant on nor may connect
    # to; the tests of the standby's share of index usage set it themselves.
    from apps.dbhealth.checks import indexes

    monkeypatch.setattr(indexes, "replica_index_scans", lambda: ({}, ""))


@pytest.fixture(autouse=True)
def _fresh_cache(db):
    from apps.dbhealth import selectors

    selectors.cache_clear()
    yield
    selectors.cache_clear()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("dbh_admin", "dbh@example.com", "pw-dbh-123!")


@pytest.fixture
def admin_client_dbh(client, superuser):
    client.force_login(superuser)
    return client


PAGES = [s.slug for s in SECTIONS]


def page_url(name: str) -> str:
    return f"/admin/dbhealth/databasehealth/{name}/"
