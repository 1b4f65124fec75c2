"""Faults while writing: a lost database connection fails that file only, and the report is
still written. Transactional (the connection really dies), so it runs outside a test transaction."""

import psycopg
import pytest
from django.db import connection

from apps.filestore import sql
from apps.tasks.models import Task
from tests.filestore.test_real_shapes import REAL

pytestmark = pytest.mark.django_db(transaction=True)


def _terminate(pid: int) -> None:
    s = connection.settings_dict
    with psycopg.connect(
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"] or None,
        host=s["HOST"],
        port=s["PORT"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_connection_lost_mid_copy_fails_that_file_only(run_import, fixtures, monkeypatch):
    real_copy = sql._copy
    calls = {"n": 0}

    def copy_then_lose_the_connection(cursor, statement, rows):
        calls["n"] += 1
        if calls["n"] == 1:
            _terminate(connection.connection.info.backend_pid)
        return real_copy(cursor, statement, rows)

    monkeypatch.setattr(sql, "_copy", copy_then_lose_the_connection)
    ok, report = run_import(REAL / "float_ids.json", fixtures / "legacy_project", project="Faulty")
    assert not ok
    by_name = {f["path"].rsplit("/", 1)[-1]: f for f in report["files"]}
    lost = by_name["float_ids.json"]
    assert lost["status"] == "failed"
    [error] = lost["errors"]
    assert error["message"].startswith("database connection lost, nothing written for this file")
    assert error["pointer"] == "/master/tasks/0"  # the first task of the batch being written
    assert lost["entities"]["task"]["read"] == 6 and lost["entities"]["task"]["created"] == 0
    assert by_name["tasks.json"]["status"] == "imported"  # the next file, on a new connection
    assert Task.objects.filter(workflow__project__name="Faulty").count() == 5
    assert not Task.objects.filter(title="Queue consumer").exists()
