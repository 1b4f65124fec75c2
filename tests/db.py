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
