"""Plain psycopg connections to the test database with one alias's login (a second session, an
autocommit set-up that every connection sees)."""

from __future__ import annotations

import psycopg
from django.db import connections


def conninfo(alias: str = "default") -> str:
    s = connections[alias].settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"] or None,
        host=s["HOST"],
        port=s["PORT"],
    )


def unscoped(conn: psycopg.Connection) -> psycopg.Connection:
    """A second app session as a job would be: every project (the app's BYPASSRLS role)."""
    from django.conf import settings

    from apps.pg.sql import quote

    conn.execute("SET ROLE " + quote(settings.ROW_SCOPE["BYPASS_ROLE"]))
    if not conn.autocommit:
        conn.commit()
    return conn


def app_session(*, observer: bool = False, **overrides) -> psycopg.Connection:
    """A second session of the app's login, outside Django: unscoped like a job (the bypass
    role), or an `observer` reading pg_stat_activity as the login itself (the bypass role sees
    other sessions' state hidden)."""
    from django.conf import settings
    from django.db import connection

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context"):
        params.pop(key, None)
    if getattr(settings, "PGBOUNCER_ADDRESS", None) and not observer:
        # A session-level role needs one server session: go direct, not through PgBouncer.
        owner = connections["owner"].settings_dict
        params.update(host=owner["HOST"], port=owner["PORT"])
    conn = psycopg.connect(**params, **overrides)
    return conn if observer else unscoped(conn)


def plan_with_seqscan_off(queryset) -> str:
    """EXPLAIN of the queryset with sequential scans priced out: the indexes it can use."""
    from django.db import connections, transaction

    sql, params = queryset.query.sql_with_params()
    connection = connections[queryset.db]
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(line for (line,) in cursor.fetchall())
