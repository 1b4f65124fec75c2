"""Physical backups and point-in-time recovery: pg_basebackup of the whole cluster, the WAL
archive the cluster's archive_command fills (.make/local.sh), and a second cluster on another
port recovered to a chosen moment (recovery_target_time, restore_command from the archive)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import tarfile
import time
from datetime import datetime
from pathlib import Path

import psycopg
from django.conf import settings
from django.utils import timezone
from psycopg.conninfo import conninfo_to_dict

from . import manifest as manifest_mod
from .models import BackupKind, BackupRun, BackupStatus
from .pg import BackupError, binary

MANIFEST_NAME = "flowbase-manifest.json"
WAL_SEGMENT = 16 * 1024 * 1024


# --- the source cluster -------------------------------------------------------------------------


def replication_conninfo() -> dict:
    """A login with the REPLICATION attribute (the app's roles have none): BACKUP_REPLICATION_URL,
    else the local cluster's superuser URL that `make env` exports."""
    url = os.environ.get("BACKUP_REPLICATION_URL") or os.environ.get("FLOWBASE_ADMIN_DATABASE_URL")
    if not url:
        raise BackupError(
            "a physical backup needs a replication login: set BACKUP_REPLICATION_URL "
            "(postgres://USER:PASSWORD@HOST:PORT/postgres, USER with REPLICATION)"
        )
    return conninfo_to_dict(url)


def _pg_env(conninfo: dict) -> dict[str, str]:
    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "target_session_attrs": "PGTARGETSESSIONATTRS",  # an HA pair's URL: the primary
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update({names[k]: str(v) for k, v in conninfo.items() if k in names and v})
    return env


def _connect(conninfo: dict) -> psycopg.Connection:
    return psycopg.connect(**{**conninfo, "dbname": "postgres"}, autocommit=True)


def wal_file_name(timeline: int, lsn: str) -> str:
    high, low = (int(part, 16) for part in lsn.split("/"))
    position = (high << 32) | low
    segments_per_id = 0x100000000 // WAL_SEGMENT
    segment = position // WAL_SEGMENT
    return f"{timeline:08X}{segment // segments_per_id:08X}{segment % segments_per_id:08X}"


def archive_command(archive: Path) -> str:
    """What the cluster runs per finished WAL segment: copy, never overwrite."""
    target = shlex.quote(str(archive))
    return f"test ! -f {target}/%f && cp %p {target}/%f"


# --- base backup --------------------------------------------------------------------------------


def physical_backup_create(
    *, conninfo: dict | None = None, directory: Path | None = None
) -> BackupRun:
    """pg_basebackup (tar, gzip, WAL streamed in) into BACKUP_DIR/base/, under a `.partial`
    name renamed only when complete. Needs WAL archiving on: without the archive a base backup
    restores only its own moment, not a chosen one."""
    conninfo = conninfo or replication_conninfo()
    directory = Path(directory or Path(settings.BACKUP_DIR) / "base")
    directory.mkdir(parents=True, exist_ok=True)
    started = timezone.now()
    clock = time.monotonic()
    run = BackupRun.objects.create(
        kind=BackupKind.PHYSICAL, database="(cluster)", started_at=started
    )
    final = directory / f"base-{started:%Y%m%dT%H%M%SZ}-{run.pk}"
    partial = directory / f".{final.name}.partial"
    try:
        with _connect(conninfo) as conn:
            mode = conn.execute("SHOW archive_mode").fetchone()[0]
            command = conn.execute("SHOW archive_command").fetchone()[0]
            server_version = conn.execute("SHOW server_version").fetchone()[0]
            system_id = conn.execute(
                "SELECT system_identifier FROM pg_control_system()"
            ).fetchone()[0]
            major = conn.info.server_version // 10000
        if mode == "off" or not command or command == "(disabled)":
            raise BackupError(
                "WAL archiving is off on this cluster (archive_mode/archive_command): point-in-time "
                "recovery needs it. See docs/backups.md (the lines .make/local.sh adds)."
            )
        result = subprocess.run(
            [
                binary("pg_basebackup", major=major),
                f"--pgdata={partial}",
                "--format=tar",
                "--gzip",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-password",
                f"--label=flowbase-{run.pk}",
            ],
            env=_pg_env(conninfo),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BackupError(
                f"pg_basebackup exited with {result.returncode}: {result.stderr.strip()[-2000:]}"
            )
        wal = json.loads((partial / "backup_manifest").read_text())["WAL-Ranges"][0]
        files = sorted(p.name for p in partial.iterdir())
        document = {
            "kind": BackupKind.PHYSICAL,
            "backup_id": run.pk,
            "created_at": started.isoformat(),
            "finished_at": timezone.now().isoformat(),
            "server_version": server_version,
            "system_identifier": str(system_id),
            "archive_command": command,
            "timeline": wal["Timeline"],
            "start_lsn": wal["Start-LSN"],
            "end_lsn": wal["End-LSN"],
            "start_wal": wal_file_name(wal["Timeline"], wal["Start-LSN"]),
            "files": {name: manifest_mod.sha256_of(partial / name) for name in files},
        }
        (partial / MANIFEST_NAME).write_text(json.dumps(document, indent=1))
        size = sum(p.stat().st_size for p in partial.iterdir())
        partial.rename(final)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        BackupRun.objects.filter(pk=run.pk).update(
            status=BackupStatus.FAILED,
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - clock) * 1000),
            error=str(exc)[:4000] or type(exc).__name__,
        )
        if isinstance(exc, BackupError | psycopg.Error | OSError | KeyError | ValueError):
            run.refresh_from_db()
            return run
        raise
    run.status = BackupStatus.OK
    run.finished_at = timezone.now()
    run.duration_ms = int((time.monotonic() - clock) * 1000)
    run.path = str(final)
    run.size_bytes = size
    run.sha256 = document["files"].get("base.tar.gz", "")
    run.server_version = server_version
    run.manifest = {k: v for k, v in document.items() if k != "files"}
    run.save()
    return run


def physical_backup_remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- point-in-time recovery ---------------------------------------------------------------------


def _as_cluster_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run the server as Debian's `postgres`."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _base_for(target_time: datetime) -> BackupRun:
    """The newest good base backup that finished before the target (recovery cannot stop
    before the backup's own end)."""
    for run in BackupRun.objects.filter(
        kind=BackupKind.PHYSICAL, status=BackupStatus.OK, finished_at__lte=target_time
    ).order_by("-finished_at"):
        if Path(run.path).is_dir():
            return run
    raise BackupError(
        f"no physical base backup finished before {target_time.isoformat()}: "
        "run `manage.py backup --physical` (recovery starts from a base backup)"
    )


def pitr_restore(
    *,
    target_time: datetime,
    port: int,
    datadir: str | Path | None = None,
    archive: Path | None = None,
    apply: bool = False,
    backup: BackupRun | None = None,
    timeout: float = 300,
) -> dict:
    """Bring up a new cluster on `port` from the base backup, replaying archived WAL up to
    target_time, then promoted (read-write, a new timeline). It writes no archive of its own,
    so the source cluster's archive stays untouched."""
    backup = backup or _base_for(target_time)
    source = Path(backup.path)
    datadir = Path(datadir or Path(settings.FLOWBASE_LOCAL_DIR) / f"pitr-{port}")
    archive = Path(archive or settings.BACKUP_WAL_ARCHIVE_DIR)
    plan = {
        "applied": False,
        "backup": backup.pk,
        "base_backup": str(source),
        "target_time": target_time.isoformat(),
        "port": port,
        "datadir": str(datadir),
        "wal_archive": str(archive),
    }
    if datadir.exists() and any(datadir.iterdir()):
        raise BackupError(f"{datadir} exists and is not empty: choose another --datadir")
    if not archive.is_dir():
        raise BackupError(f"{archive}: no WAL archive there (BACKUP_WAL_ARCHIVE_DIR)")
    if _port_in_use(port):
        raise BackupError(f"port {port} is taken by a running server: choose another --port")
    if not apply:
        return plan
    clock = time.monotonic()
    document = json.loads((source / MANIFEST_NAME).read_text())
    for name, sha in document["files"].items():
        if manifest_mod.sha256_of(source / name) != sha:
            raise BackupError(f"{source / name}: checksum differs from the manifest")
    datadir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / "base.tar.gz") as tar:
        tar.extractall(datadir, filter="data")
    with tarfile.open(source / "pg_wal.tar.gz") as tar:
        tar.extractall(datadir / "pg_wal", filter="data")
    with (datadir / "postgresql.auto.conf").open("a") as conf:
        restore = f"cp {shlex.quote(str(archive))}/%f %p"
        conf.write(
            "\n# --- point-in-time recovery (manage.py restore --pitr) ---\n"
            f"port = {port}\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{datadir}'\n"
            "archive_mode = off\n"  # never write into the source cluster's archive
            f"restore_command = '{restore}'\n"
            f"recovery_target_time = '{target_time.isoformat()}'\n"
            "recovery_target_action = 'promote'\n"
        )
    (datadir / "recovery.signal").touch()
    for name in ("postmaster.pid", "postmaster.opts"):
        (datadir / name).unlink(missing_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:", str(datadir)], check=True)
    datadir.chmod(0o700)
    major = int(document["server_version"].split(".")[0])
    started = subprocess.run(
        _as_cluster_user(
            [
                binary("pg_ctl", major=major),
                "-D",
                str(datadir),
                "-l",
                str(datadir / "recovery.log"),
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        log = (
            (datadir / "recovery.log").read_text()[-3000:]
            if (datadir / "recovery.log").exists()
            else ""
        )
        raise BackupError(f"the recovered cluster did not start: {started.stderr.strip()}\n{log}")
    deadline = time.monotonic() + timeout
    user = conninfo_user()
    while True:
        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user=user, dbname="postgres", connect_timeout=5
            ) as conn:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    break
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise BackupError(
                f"recovery did not finish in {timeout:.0f} s: see {datadir}/recovery.log"
            )
        time.sleep(0.2)
    plan.update(
        applied=True,
        duration_ms=int((time.monotonic() - clock) * 1000),
        stop=f"pg_ctl -D {datadir} stop",
    )
    return plan


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def conninfo_user() -> str:
    try:
        return replication_conninfo().get("user") or "postgres"
    except BackupError:
        return "postgres"


def cluster_stop(datadir: Path, *, major: int | None = None) -> None:
    subprocess.run(
        _as_cluster_user(
            [binary("pg_ctl", major=major), "-D", str(datadir), "-m", "fast", "-w", "stop"]
        ),
        capture_output=True,
    )


def wal_archive_cleanup(*, archive: Path | None = None) -> str | None:
    """Remove archived WAL older than the oldest kept base backup's start (pg_archivecleanup):
    nothing before it can be replayed from any backup."""
    archive = Path(archive or settings.BACKUP_WAL_ARCHIVE_DIR)
    kept = (
        BackupRun.objects.filter(kind=BackupKind.PHYSICAL, status=BackupStatus.OK)
        .order_by("started_at")
        .first()
    )
    if kept is None or not archive.is_dir() or not kept.manifest.get("start_wal"):
        return None
    subprocess.run(
        [binary("pg_archivecleanup"), str(archive), kept.manifest["start_wal"]],
        check=True,
        capture_output=True,
    )
    return kept.manifest["start_wal"]
