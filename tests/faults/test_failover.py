"""Automated failover (`make test-failover`: FLOWBASE_HA=1, a pg_auto_failover formation in
.local/ha). The primary is killed (-9, keeper and postgres) while the app writes through its
multi-host URL (target_session_attrs=read-write); the monitor promotes the synchronous standby,
the app's next transactions commit there, and every row the app saw committed is on it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from apps.ops.models import Heartbeat
from tests.local_services import local_sh

from .conftest import wait_until
from .writer import HeartbeatWriter

HA_REQUESTED = os.environ.get("FLOWBASE_HA") == "1"
MONITOR_URL = os.environ.get("FLOWBASE_HA_MONITOR_URL", "")


def _skip_reason() -> str:
    if shutil.which("pg_autoctl") is None:
        return "pg_auto_failover is not installed (`make test-failover` installs and starts it)"
    return "needs the pg_auto_failover formation: FLOWBASE_HA=1 (run `make test-failover`)"


pytestmark = [
    # Asked for (make test-failover, CI): it runs, and fails when the formation is missing.
    pytest.mark.skipif(not HA_REQUESTED, reason=_skip_reason()),
    pytest.mark.django_db(transaction=True, databases=["default", "monitor"]),
    pytest.mark.slow,
]
PREFIX = "failover-"


def node_states() -> dict[str, tuple[int, str, str]]:
    """name -> (port, reported state, assigned state), from the monitor."""
    with psycopg.connect(MONITOR_URL, connect_timeout=2) as conn:
        rows = conn.execute(
            "SELECT nodename, nodeport, reportedstate::text, goalstate::text"
            " FROM pgautofailover.node"
        ).fetchall()
    return {name: (port, reported, goal) for name, port, reported, goal in rows}


def healthy() -> bool:
    try:
        states = sorted((r, g) for _, r, g in node_states().values())
    except psycopg.Error:
        return False
    return states == [("primary", "primary"), ("secondary", "secondary")]


@pytest.fixture
def formation():
    """A healthy formation before; afterwards the killed node restarted (it rejoins as the
    standby, pg_rewind'd by its keeper) so the next run finds a pair again."""
    assert MONITOR_URL, "FLOWBASE_HA=1 but FLOWBASE_HA_MONITOR_URL is unset (`make env`)"
    assert "," in str(settings.DATABASES["default"]["HOST"]), "DATABASE_URL is not multi-host"
    wait_until(healthy, timeout=120, what="a primary and a secondary", step=0.5)
    yield
    started = time.monotonic()
    local_sh(
        "ha-up", mode="HA", timeout=180
    )  # starts what is stopped and waits until the pair is healthy again
    print(f"killed node back as the standby {time.monotonic() - started:.1f} s after restart")


def primary_facts() -> tuple[int, str, tuple[str, str, list[str]]]:
    """Port, data directory and (synchronous_commit, synchronous_standby_names, the standbys'
    sync states), as read on the primary by the monitor login (pg_monitor)."""
    with connections["monitor"].cursor() as cursor:
        cursor.execute(
            "SELECT inet_server_port(), current_setting('data_directory'),"
            " current_setting('synchronous_commit'),"
            " current_setting('synchronous_standby_names'),"
            " (SELECT array_agg(sync_state::text) FROM pg_stat_replication)"
        )
        port, data_dir, commit, names, states = cursor.fetchone()
    connections["monitor"].close()
    return port, data_dir, (commit, names, states or [])


def crash(data_dir: str) -> None:
    """kill -9 of the node's whole process group: its keeper and its postgres (a keeper left
    alive would just restart postgres, and no failover would be needed)."""
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    group = os.getpgid(postmaster)
    assert group != os.getpgid(0), "the node shares this test's process group"
    os.killpg(group, signal.SIGKILL)


def test_primary_killed_while_the_app_writes_standby_takes_over_nothing_lost(formation):
    old_port, data_dir, sync = primary_facts()
    # Zero loss needs each commit flushed on the standby before the app hears of it.
    commit, names, states = sync
    assert commit in ("on", "remote_apply") and names and {"sync", "quorum"} & set(states), sync

    writer = HeartbeatWriter(PREFIX, pause=0.02, retry_pause=0.1)
    thread = threading.Thread(target=writer.run, args=(time.monotonic() + 120,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(writer.committed) >= 20, timeout=20, what="writes on the primary")
        assert not writer.failures, writer.failures
        crash(data_dir)
        killed_at = time.monotonic()

        old = {port: name for name, (port, _, _) in node_states().items()}[old_port]
        promoted = wait_until(
            lambda: [
                name
                for name, (_, reported, _) in node_states().items()
                if name != old and reported in ("wait_primary", "primary")
            ],
            timeout=60,
            what="the monitor to promote the standby",
            step=0.2,
        )[0]
        promoted_after = time.monotonic() - killed_at
        new_port = node_states()[promoted][0]
        wait_until(
            lambda: len(writer.commits_after(killed_at)) >= 20 or writer.crashed,
            timeout=60,
            what="the app's writes to succeed on the new primary",
        )
    finally:
        writer.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the writer is stuck"
    assert writer.crashed is None, writer.crashed

    after = writer.commits_after(killed_at)
    assert {port for _, _, port in after} == {new_port}
    assert writer.failures, "the kill went unnoticed: no write failed"
    first_failure = writer.failures[0][0]
    first_success_after = next(c[0] for c in writer.committed if c[0] > first_failure)
    last_before = max(c[0] for c in writer.committed if c[0] < killed_at)

    # On the new primary (a fresh connection through the multi-host URL): every committed row.
    connections["default"].close()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT inet_server_port(), pg_is_in_recovery()")
        assert cursor.fetchone() == (new_port, False)
    present = set(Heartbeat.objects.filter(name__startswith=PREFIX).values_list("name", flat=True))
    committed = {name for _, name, _ in writer.committed}
    assert committed - present == set(), "committed rows lost in the failover"
    # libpq's reason per host ("- host: …, port: '…' …: <reason>"), or the whole first line.
    kinds = Counter(
        re.sub(r".*port: '(\d+)'.*failed: ", r":\1 ", line)[:60]
        for _, message in writer.failures
        for line in (message.splitlines()[1:] or message.splitlines()[:1])
        if not line.startswith(("Multiple", "\t"))
    )
    print(
        f"\n{len(committed)} commits ({len(committed) - len(after)} on :{old_port}, {len(after)}"
        f" on :{new_port}), none lost; standby promoted {promoted_after:.1f} s after the kill;"
        f" writes unavailable {first_success_after - first_failure:.1f} s (first failed to first"
        f" successful write; {first_success_after - last_before:.1f} s since the last commit"
        f" before the kill); {len(writer.failures)} failed attempts: {dict(kinds.most_common(4))}"
    )
