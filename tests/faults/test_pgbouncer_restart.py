"""PgBouncer restarted while the app writes through it (`make test-pgbouncer`, the app's login
in transaction mode): writes fail only while it is down, the app's next transactions commit
through the new PgBouncer (CONN_HEALTH_CHECKS and CONN_MAX_AGE 0 give each one a fresh client
connection), and every row whose commit returned is there afterwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from apps.ops.models import Heartbeat
from tests.local_services import local_sh

from .conftest import wait_until
from .writer import HeartbeatWriter

THROUGH_PGBOUNCER = bool(getattr(settings, "PGBOUNCER_ADDRESS", None))
PIDFILE = Path(__file__).resolve().parents[2] / ".local" / "pgbouncer" / "pgbouncer.pid"
PREFIX = "pgbouncer-restart-"

pytestmark = [
    pytest.mark.skipif(
        not THROUGH_PGBOUNCER,
        reason="needs the app's login through PgBouncer (run `make test-pgbouncer`)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]


def pgbouncer_pid() -> int:
    return int(PIDFILE.read_text().split()[0])


def test_pgbouncer_restarted_while_the_app_writes_nothing_committed_is_lost():
    _, bouncer_port = settings.PGBOUNCER_ADDRESS
    old_pid = pgbouncer_pid()
    writer = HeartbeatWriter(PREFIX)
    thread = threading.Thread(target=writer.run, args=(time.monotonic() + 90,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(writer.committed) >= 20, timeout=20, what="writes through PgBouncer")
        assert not writer.failures, writer.failures
        restart_at = time.monotonic()
        local_sh("restart-pgbouncer", mode="PGBOUNCER", timeout=60)
        restarted_at = time.monotonic()
        wait_until(
            lambda: sum(c[0] > restarted_at for c in writer.committed) >= 20 or writer.crashed,
            timeout=30,
            what="the app's writes to succeed through the new PgBouncer",
        )
    finally:
        writer.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the writer is stuck"
    assert writer.crashed is None, writer.crashed
    assert pgbouncer_pid() != old_pid, "PgBouncer was not restarted"

    assert writer.failures, "the restart went unnoticed: no write failed"
    first_failure, last_failure = writer.failures[0][0], writer.failures[-1][0]
    # One window, inside the restart: no failure once writes succeed again.
    assert restart_at <= first_failure and last_failure <= restarted_at + 5, (
        restart_at,
        writer.failures,
        restarted_at,
    )
    first_success_after = next(c[0] for c in writer.committed if c[0] > first_failure)
    assert first_success_after > last_failure
    unavailable = first_success_after - first_failure
    assert unavailable < 15, f"writes failed for {unavailable:.1f} s"
    assert {port for _, _, port in writer.committed} == {bouncer_port}

    # Every commit that returned is there (read directly on the primary by a fresh connection).
    connections["default"].close()
    present = set(Heartbeat.objects.filter(name__startswith=PREFIX).values_list("name", flat=True))
    committed = {name for _, name, _ in writer.committed}
    assert committed - present == set(), "committed rows lost in the restart"
    kinds = sorted({message.splitlines()[0][:120] for _, message in writer.failures})
    print(
        f"\n{len(committed)} commits, none lost; writes unavailable {unavailable:.2f} s (first"
        f" failed to first successful write; restart took {restarted_at - restart_at:.2f} s);"
        f" {len(writer.failures)} failed attempts: {kinds[:3]}"
    )
