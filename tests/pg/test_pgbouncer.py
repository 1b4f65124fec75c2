"""PgBouncer in transaction mode: the settings that make the app safe behind it, and (in the
`make test-pgbouncer` pass) that the app's login really goes through it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from tests.pg.pgbouncer import DIRECT_TESTS

PROBE = (
    "import json, django; django.setup(); from django.conf import settings;"
    "d = settings.DATABASES['default'];"
    "print(json.dumps({'ssc': d.get('DISABLE_SERVER_SIDE_CURSORS', False),"
    " 'prepare': d['OPTIONS'].get('prepare_threshold', 'unset'),"
    " 'options': d['OPTIONS'].get('options'), 'flag': d.get('PGBOUNCER', False),"
    " 'owner_options': settings.DATABASES['owner']['OPTIONS'].get('options')}))"
)


def _settings_with(**env) -> dict:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "dataplatform.settings.dev", **env}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_behind_pgbouncer_the_app_keeps_nothing_in_the_session():
    pooled = _settings_with(DB_PGBOUNCER="1")
    assert pooled["ssc"] is True  # no DECLARE … CURSOR (a session object) for .iterator()
    assert pooled["prepare"] is None  # psycopg never PREPAREs
    assert pooled["options"] is None  # startup options cannot be pooled
    assert pooled["flag"] is True  # apps.pg.sql.behind_pgbouncer("default")
    assert "role=" in pooled["owner_options"]  # the owner's login stays direct, with its role

    direct = _settings_with(DB_PGBOUNCER="0")
    assert (direct["ssc"], direct["prepare"], direct["flag"]) == (False, "unset", False)
    assert "pgtrigger.ignore" in direct["options"]


def test_the_skip_list_names_tests_as_pytest_does():
    for nodeid in DIRECT_TESTS:
        path, _, name = nodeid.partition("::")
        assert path.startswith("tests/") and path.endswith(".py") and name, nodeid
        assert f"def {name.split('::')[-1]}(" in Path(path).read_text(), nodeid


@pytest.mark.skipif(not settings.PGBOUNCER_ADDRESS, reason="only in make test-pgbouncer")
@pytest.mark.django_db(transaction=True)
def test_the_app_login_goes_through_pgbouncer_and_survives_many_transactions():
    connection.ensure_connection()
    assert str(connection.connection.info.port) == str(settings.PGBOUNCER_ADDRESS[1])
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('pgtrigger.ignore', true)")
        assert cursor.fetchone()[0] == "{}"  # PgBouncer's connect_query, not a startup option
    # The same statement many times, each in its own transaction (a server connection each
    # time): it would fail on a statement psycopg had prepared on another server connection.
    for n in range(12):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT %s::int + 1", [n])
            assert cursor.fetchone()[0] == n + 1
