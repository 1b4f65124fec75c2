"""Logical backups (pg_dump -Fc), restores into a new database, and the restore test that proves
a backup usable. Runs as the owner (the `owner` alias: MAINTENANCE_/MIGRATE_DATABASE_URL)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from django.conf import settings
from django.utils import timezone

from . import manifest as manifest_mod
from .models import BackupKind, BackupRun, BackupStatus, RestoreStatus, RestoreTest
from .pg import BackupError, Target, binary, check_database_name, quote_ident, target

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1


def backup_dir() -> Path:
    path = Path(settings.BACKUP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.rename(path)


def _server_major(conn) -> int:
    return int(conn.info.server_version) // 10000


# --- backup -------------------------------------------------------------------------------------


def backup_create(*, using: str = "owner") -> BackupRun:
    """pg_dump -Fc of the database into BACKUP_DIR, with a manifest measured in the dump's own
    snapshot (exported by this session, imported by pg_dump). The dump is written under a
    `.partial` name and renamed only when complete: a killed backup never looks finished, and its
    row stays `running`/`failed`, never `ok`."""
    tgt = target(using)
    started = timezone.now()
    clock = time.monotonic()
    run = BackupRun.objects.create(kind=BackupKind.LOGICAL, database=tgt.dbname, started_at=started)
    final = backup_dir() / f"{tgt.dbname}-{started:%Y%m%dT%H%M%SZ}-{run.pk}.dump"
    partial = final.with_name(f".{final.name}.partial")
    try:
        tables, schema, server_version = _dump(tgt, partial)
        sha256 = manifest_mod.sha256_of(partial)
        size = partial.stat().st_size
        document = {
            "version": MANIFEST_VERSION,
            "kind": BackupKind.LOGICAL,
            "backup_id": run.pk,
            "database": tgt.dbname,
            "created_at": started.isoformat(),
            "file": final.name,
            "size_bytes": size,
            "sha256": sha256,
            "server_version": server_version,
            "format": "pg_dump custom (-Fc)",
            "schema": schema,
            "tables": tables,
        }
        partial.rename(final)
        _write_atomically(manifest_path(final), json.dumps(document, indent=1).encode())
    except BaseException as exc:  # KeyboardInterrupt too: the row must never stay "running"
        partial.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        BackupRun.objects.filter(pk=run.pk).update(
            status=BackupStatus.FAILED,
            finished_at=timezone.now(),
            duration_ms=_ms(clock),
            error=str(exc)[:4000] or type(exc).__name__,
        )
        if isinstance(exc, BackupError | psycopg.Error | OSError):
            run.refresh_from_db()
            return run
        raise
    run.status = BackupStatus.OK
    run.finished_at = timezone.now()
    run.duration_ms = _ms(clock)
    run.path = str(final)
    run.size_bytes = size
    run.sha256 = sha256
    run.server_version = server_version
    run.manifest = {k: v for k, v in document.items() if k not in ("tables", "schema")} | {
        "tables": len(tables),
        "rows": sum(t["rows"] for t in tables.values()),
    }
    run.save()
    return run


def _dump(tgt: Target, partial: Path) -> tuple[dict, dict, str]:
    with tgt.connect() as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        server_version = conn.execute("SHOW server_version").fetchone()[0]
        command = [
            binary("pg_dump", major=_server_major(conn)),
            "--format=custom",
            "--no-password",
            f"--snapshot={snapshot}",
            f"--file={partial}",
        ]
        dump = subprocess.Popen(
            command, env=tgt.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            # Counted while pg_dump copies, in the very snapshot it reads.
            tables = manifest_mod.table_stats(conn)
            schema = manifest_mod.schema_stats(conn)
        finally:
            _, stderr = dump.communicate()
        conn.rollback()
    if dump.returncode != 0:
        raise BackupError(f"pg_dump exited with {dump.returncode}: {_tail(stderr)}")
    return tables, schema, server_version


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".json")


def read_manifest(dump: Path) -> dict:
    path = manifest_path(dump)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{path}: no manifest beside the dump (an unfinished backup?)") from exc
    except ValueError as exc:
        raise BackupError(f"{path}: not a valid manifest: {exc}") from exc


def backups_good(kind: str = BackupKind.LOGICAL):
    """Finished backups whose files are still there, newest first."""
    return [
        run
        for run in BackupRun.objects.filter(kind=kind, status=BackupStatus.OK).order_by(
            "-started_at"
        )
        if run.path and Path(run.path).exists()
    ]


def resolve_backup(ref: str | None) -> tuple[BackupRun | None, Path]:
    """A backup by id, by file path, or (None) the newest good logical one."""
    if ref is None:
        good = backups_good()
        if not good:
            raise BackupError("no finished logical backup: run `manage.py backup` first")
        return good[0], Path(good[0].path)
    if ref.isdigit():
        run = BackupRun.objects.filter(pk=int(ref)).first()
        if run is None or run.status != BackupStatus.OK:
            raise BackupError(f"backup {ref}: no finished backup with this id")
        return run, Path(run.path)
    path = Path(ref)
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    return BackupRun.objects.filter(path=str(path.resolve())).first(), path


# --- restore ------------------------------------------------------------------------------------


@dataclass
class RestorePlan:
    backup_file: str
    into: str
    exists: bool
    replaces: bool
    applied: bool = False
    tables: int = 0
    rows: int = 0
    duration_ms: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _drop_database(admin, name: str) -> None:
    """DROP DATABASE; WITH (FORCE) only if sessions are still connected. A plain DROP makes an
    autovacuum worker on a freshly restored database leave, which FORCE, as a non-superuser,
    refuses to do (it may not signal a superuser's process)."""
    try:
        admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)}")
    except psycopg.errors.ObjectInUse:
        admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")


def _database_exists(conn, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
    )


def backup_restore(
    *,
    backup: Path,
    into: str,
    apply: bool = False,
    force: bool = False,
    confirm: str | None = None,
    using: str = "owner",
) -> RestorePlan:
    """Restore a logical backup into the new database `into`. An existing database is replaced
    only with force=True and confirm == into (the name typed twice); the restore goes into a
    temporary database first, so a failed restore never touches the existing one."""
    check_database_name(into)
    tgt = target(using)
    document = read_manifest(backup)
    if manifest_mod.sha256_of(backup) != document.get("sha256"):
        raise BackupError(f"{backup}: checksum differs from its manifest (file damaged?)")
    live = {c["NAME"] for c in settings.DATABASES.values()}
    with tgt.connect("postgres", autocommit=True) as admin:
        exists = _database_exists(admin, into)
        plan = RestorePlan(
            backup_file=str(backup),
            into=into,
            exists=exists,
            replaces=exists,
            tables=len(document.get("tables", {})),
            rows=sum(t["rows"] for t in document.get("tables", {}).values()),
        )
        if exists or into in live:
            if not force:
                raise BackupError(
                    f"database {into!r} exists{' (a live database)' if into in live else ''}: "
                    "restore into a new name, or replace it with --force --confirm NAME"
                )
            if confirm != into:
                raise BackupError(f"--force needs --confirm {into} (the name typed twice)")
            plan.notes.append(f"replaces the existing database {into}")
        if not apply:
            return plan
        clock = time.monotonic()
        staging = check_database_name(f"{into[:50]}_restoring")
        _drop_database(admin, staging)
        _restore_into(tgt, admin, backup, staging)
        if exists:
            _drop_database(admin, into)
        admin.execute(f"ALTER DATABASE {quote_ident(staging)} RENAME TO {quote_ident(into)}")
    plan.applied = True
    plan.duration_ms = _ms(clock)
    return plan


def _restore_into(tgt: Target, admin, backup: Path, name: str) -> None:
    """CREATE DATABASE from template1 (it carries the extensions the owner may not create) and
    pg_restore in one transaction: all or nothing."""
    admin.execute(f"CREATE DATABASE {quote_ident(name)} TEMPLATE template1")
    try:
        with tgt.connect(name) as conn:
            present = _template_objects(conn)
            major = _server_major(conn)
        listing = subprocess.run(
            [binary("pg_restore", major=major), "--list", str(backup)],
            env=tgt.env(name),
            capture_output=True,
            text=True,
        )
        if listing.returncode != 0:
            raise BackupError(f"pg_restore --list: {_tail(listing.stderr)}")
        toc = backup.with_name(f".{backup.name}.{name}.toc")
        toc.write_text(_filter_toc(listing.stdout, present))
        try:
            restore = subprocess.run(
                [
                    binary("pg_restore", major=major),
                    "--no-password",
                    "--single-transaction",
                    "--exit-on-error",
                    f"--use-list={toc}",
                    f"--dbname={name}",
                    str(backup),
                ],
                env=tgt.env(name),
                capture_output=True,
                text=True,
            )
        finally:
            toc.unlink(missing_ok=True)
        if restore.returncode != 0:
            raise BackupError(
                f"pg_restore exited with {restore.returncode}: {_tail(restore.stderr)}"
            )
    except BaseException:
        _drop_database(admin, name)
        raise


def _template_objects(conn) -> set[str]:
    """Functions the new database already has from template1 (besides extensions'): their
    entries in the dump are skipped instead of failing with "already exists"."""
    rows = conn.execute(
        "SELECT n.nspname || ' ' || p.proname FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass"
        " AND d.objid = p.oid AND d.deptype = 'e')"
    ).fetchall()
    return {row[0] for row in rows}


def _filter_toc(listing: str, present: set[str]) -> str:
    """The dump's table of contents without what template1 already provides: extensions (and
    their comments), and functions it already has (with their comments and grants)."""
    kept = []
    for line in listing.splitlines():
        if not line or line.startswith(";"):
            kept.append(line)
            continue
        _, _, entry = line.partition("; ")
        words = entry.split(" ", 2)[2] if entry.count(" ") >= 2 else ""  # after "catalog oid "
        if words.startswith(("EXTENSION ", "COMMENT - EXTENSION ")):
            continue
        parts = words.split(" ")
        if parts[0] == "FUNCTION" and len(parts) > 2:
            key = f"{parts[1]} {parts[2].split('(')[0]}"
        elif parts[0] in {"ACL", "COMMENT"} and len(parts) > 3 and parts[2] == "FUNCTION":
            key = f"{parts[1]} {parts[3].split('(')[0]}"
        else:
            key = None
        if key in present:
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def database_drop(*, name: str, using: str = "owner") -> None:
    check_database_name(name)
    with target(using).connect("postgres", autocommit=True) as admin:
        _drop_database(admin, name)


# --- verification -------------------------------------------------------------------------------


def restore_verify(*, backup: BackupRun | None = None, using: str = "owner") -> RestoreTest:
    """Restore a backup (default: the newest good logical one) into a scratch database, compare
    every table's row count and sample checksum with the manifest, drop the scratch database,
    and record the result. Never raises for a failed restore: the row says what failed."""
    started = timezone.now()
    clock = time.monotonic()
    if backup is None:
        good = backups_good()
        if not good:
            raise BackupError("no finished logical backup to verify: run `manage.py backup`")
        backup = good[0]
    scratch = f"flowbase_verify_{backup.pk}_{started:%Y%m%d%H%M%S}"
    result = {"tables_checked": 0, "rows_checked": 0, "mismatches": [], "error": ""}
    try:
        path = Path(backup.path)
        document = read_manifest(path)
        backup_restore(backup=path, into=scratch, apply=True, using=using)
        with target(using).connect(scratch) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            actual = manifest_mod.table_stats(conn)
            schema = manifest_mod.schema_stats(conn)
            conn.rollback()
        result["mismatches"] = manifest_mod.compare_schema(
            document.get("schema", {}), schema
        ) + manifest_mod.compare(document["tables"], actual)
        result["tables_checked"] = len(actual)
        result["rows_checked"] = sum(t["rows"] for t in actual.values())
    except (BackupError, psycopg.Error, OSError, KeyError) as exc:
        result["error"] = str(exc)[:4000] or type(exc).__name__
    finally:
        try:
            database_drop(name=scratch, using=using)
        except psycopg.Error:
            logger.exception("backups: could not drop the scratch database %s", scratch)
    passed = not result["error"] and not result["mismatches"]
    return RestoreTest.objects.create(
        backup=backup,
        status=RestoreStatus.PASSED if passed else RestoreStatus.FAILED,
        started_at=started,
        finished_at=timezone.now(),
        duration_ms=_ms(clock),
        scratch_database=scratch,
        **result,
    )


# --- retention ----------------------------------------------------------------------------------


def retention_apply(*, days: int | None = None, now: datetime | None = None) -> list[int]:
    """Delete backup files older than BACKUP_RETENTION_DAYS; rows stay (status `pruned`) so the
    restore tests keep their history. The newest good backup of each kind, and the newest one a
    restore test passed on, are always kept, however old."""
    days = settings.BACKUP_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    keep: set[int] = set()
    for kind in BackupKind.values:
        newest = backups_good(kind)
        if newest:
            keep.add(newest[0].pk)
    verified = (
        RestoreTest.objects.filter(status=RestoreStatus.PASSED).order_by("-started_at").first()
    )
    if verified:
        keep.add(verified.backup_id)
    pruned = []
    old = BackupRun.objects.filter(status=BackupStatus.OK, started_at__lt=cutoff).exclude(
        pk__in=keep
    )
    for run in old:
        path = Path(run.path)
        if run.kind == BackupKind.PHYSICAL:
            from .physical import physical_backup_remove

            physical_backup_remove(path)
        else:
            path.unlink(missing_ok=True)
            manifest_path(path).unlink(missing_ok=True)
        BackupRun.objects.filter(pk=run.pk).update(status=BackupStatus.PRUNED)
        pruned.append(run.pk)
    from .physical import wal_archive_cleanup

    wal_archive_cleanup()  # WAL older than the oldest kept base backup can never be replayed
    return pruned
