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
