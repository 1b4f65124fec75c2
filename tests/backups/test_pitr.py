"""Point-in-time recovery on a real cluster: a scratch cluster initdb'd here (port 54360, WAL
archiving on), a base backup, rows before and after a noted moment, and a second cluster
(port 54361) recovered to that moment. Also a base backup killed half-way."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from apps.backups import physical
from apps.backups.models import BackupKind, BackupRun, BackupStatus
from apps.backups.pg import BackupError, binary

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SOURCE_PORT, RECOVERED_PORT = 54360, 54361


def _pg(port: int, sql: str, *params):
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def scratch(settings):
    """A directory the postgres user can reach (tmp_path is 0700 root's), removed afterwards."""
    root = Path(settings.FLOWBASE_LOCAL_DIR) / "test-scratch" / uuid.uuid4().hex[:8]
    root.mkdir(parents=True)
    settings.BACKUP_DIR = root / "backups"
    started: list[Path] = []
    yield root, started
    for datadir in started:
        physical.cluster_stop(datadir)
    shutil.rmtree(root, ignore_errors=True)


def _cluster(root: Path, started: list[Path], port: int) -> tuple[Path, Path]:
    datadir, archive = root / "source", root / "archive"
    datadir.mkdir()
    archive.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["chown", "postgres:", str(root), str(datadir), str(archive)], check=True)
    subprocess.run(
        physical._as_cluster_user(
            [binary("initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    with (datadir / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{datadir}'\n"
            "wal_level = replica\narchive_mode = on\n"
            f"archive_command = '{physical.archive_command(archive)}'\n"
            "fsync = off\nshared_buffers = 32MB\nmax_wal_size = 256MB\n"
        )
    subprocess.run(
        physical._as_cluster_user(
            [binary("pg_ctl"), "-D", str(datadir), "-l", str(root / "source.log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    started.append(datadir)
    return datadir, archive


def _wait_archived(port: int, timeout: float = 60) -> None:
    """pg_switch_wal, then wait until the archiver has copied that segment."""
    segment = _pg(port, "SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = _pg(port, "SELECT last_archived_wal FROM pg_stat_archiver")[0][0]
        if last and last >= segment:
            return
        time.sleep(0.1)
    raise AssertionError(f"segment {segment} was not archived")


def test_recover_a_second_cluster_to_a_noted_moment(scratch):
    root, started = scratch
    _, archive = _cluster(root, started, SOURCE_PORT)
    conninfo = {"host": "127.0.0.1", "port": SOURCE_PORT, "user": "postgres"}
    _pg(SOURCE_PORT, "CREATE TABLE marks (id int PRIMARY KEY, phase text NOT NULL)")
    _pg(SOURCE_PORT, "INSERT INTO marks SELECT g, 'before base' FROM generate_series(1, 1000) g")

    clock = time.monotonic()
    run = physical.physical_backup_create(conninfo=conninfo)
    base_seconds = time.monotonic() - clock
    assert run.status == BackupStatus.OK, run.error
    assert sorted(p.name for p in Path(run.path).iterdir()) == [
        "backup_manifest",
        "base.tar.gz",
        physical.MANIFEST_NAME,
        "pg_wal.tar.gz",
    ]

    _pg(SOURCE_PORT, "INSERT INTO marks SELECT g, 'first' FROM generate_series(1001, 1100) g")
    time.sleep(1.1)
    noted = _pg(SOURCE_PORT, "SELECT clock_timestamp()")[0][0]
    time.sleep(1.1)
    _pg(SOURCE_PORT, "INSERT INTO marks SELECT g, 'later' FROM generate_series(1101, 1200) g")
    _wait_archived(SOURCE_PORT)

    clock = time.monotonic()
    result = physical.pitr_restore(
        target_time=noted,
        port=RECOVERED_PORT,
        datadir=root / "recovered",
        archive=archive,
        apply=True,
    )
    restore_seconds = time.monotonic() - clock
    started.append(root / "recovered")
    assert result["applied"] and result["backup"] == run.pk
    phases = dict(_pg(RECOVERED_PORT, "SELECT phase, count(*) FROM marks GROUP BY phase"))
    assert phases == {"before base": 1000, "first": 100}  # no 'later' row
    assert not _pg(RECOVERED_PORT, "SELECT pg_is_in_recovery()")[0][0]  # promoted: usable
    # The source is untouched, and the recovered cluster archives nothing into its archive.
    assert _pg(SOURCE_PORT, "SELECT count(*) FROM marks")[0][0] == 1200
    assert _pg(RECOVERED_PORT, "SHOW archive_mode")[0][0] == "off"
    print(
        f"\nPITR: base backup {base_seconds:.2f} s ({run.size_bytes} bytes), "
        f"restore to the point {restore_seconds:.2f} s"
    )


def test_pitr_refuses_a_moment_before_any_base_backup_and_a_busy_port(scratch):
    root, started = scratch
    _, archive = _cluster(root, started, SOURCE_PORT)
    before = _pg(SOURCE_PORT, "SELECT clock_timestamp()")[0][0]
    run = physical.physical_backup_create(
        conninfo={"host": "127.0.0.1", "port": SOURCE_PORT, "user": "postgres"}
    )
    assert run.status == BackupStatus.OK
    with pytest.raises(BackupError, match="no physical base backup finished before"):
        physical.pitr_restore(target_time=before, port=RECOVERED_PORT, archive=archive)
    with pytest.raises(BackupError, match="is taken"):
        physical.pitr_restore(target_time=run.finished_at, port=SOURCE_PORT, archive=archive)
    plan = physical.pitr_restore(
        target_time=run.finished_at, port=RECOVERED_PORT, datadir=root / "r", archive=archive
    )
    assert plan["applied"] is False and not (root / "r").exists()  # dry run


def _child(name: str) -> int | None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1] == name and int(tail.split()[1]) == os.getpid():
            return int(stat.parent.name)
    return None


@pytest.mark.django_db(transaction=True)
def test_a_base_backup_killed_mid_way_is_never_listed_as_good(scratch):
    root, started = scratch
    _cluster(root, started, SOURCE_PORT)
    # Enough data that pg_basebackup is still copying when it is killed.
    _pg(
        SOURCE_PORT,
        "CREATE TABLE filler AS SELECT g, md5(g::text) AS t FROM generate_series(1, 400000) g",
    )
    result: dict = {}
    conninfo = {"host": "127.0.0.1", "port": SOURCE_PORT, "user": "postgres"}
    worker = threading.Thread(
        target=lambda: result.update(run=physical.physical_backup_create(conninfo=conninfo))
    )
    worker.start()
    deadline = time.monotonic() + 30
    while (pid := _child("pg_basebackup")) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pid, "pg_basebackup did not start"
    os.kill(pid, signal.SIGKILL)
    worker.join(60)
    run = result["run"]
    assert run.status == BackupStatus.FAILED and "exited with -9" in run.error
    base = Path(settings.BACKUP_DIR) / "base"
    assert list(base.iterdir()) == []  # the partial directory is gone
    assert not BackupRun.objects.filter(kind=BackupKind.PHYSICAL, status=BackupStatus.OK).exists()


def test_pg_basebackup_gets_the_multi_host_url_s_session_attributes(monkeypatch):
    """An HA pair's replication URL: every host, and the primary asked for by name."""
    monkeypatch.setenv(
        "BACKUP_REPLICATION_URL",
        "postgres://rep:pw@10.0.0.1:5433,10.0.0.2:5434/postgres?target_session_attrs=primary",
    )
    env = physical._pg_env(physical.replication_conninfo())
    assert (env["PGHOST"], env["PGPORT"], env["PGTARGETSESSIONATTRS"]) == (
        "10.0.0.1,10.0.0.2",
        "5433,5434",
        "primary",
    )
