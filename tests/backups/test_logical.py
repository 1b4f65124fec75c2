"""Logical backups against the real test database: the dump, its manifest, restores into new
databases, the restore test that compares them, and a backup killed half-way."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from apps.backups import findings, services
from apps.backups.models import BackupRun, BackupStatus, RestoreStatus
from apps.backups.pg import target
from apps.projects.models import Project
from tests.factories.domain import ProjectFactory

# pg_dump reads committed data only: these tests commit (and are flushed afterwards).
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


@pytest.fixture
def backup_dir(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def scratch_databases():
    """Names the test restores into; dropped afterwards whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        services.database_drop(name=name)


def _count(dbname: str, table: str) -> int:
    with target().connect(dbname) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_backup_writes_a_complete_dump_and_its_manifest(backup_dir):
    ProjectFactory.create_batch(7)
    run = services.backup_create()
    assert run.status == BackupStatus.OK, run.error
    dump = Path(run.path)
    assert dump.parent == backup_dir and dump.stat().st_size == run.size_bytes
    document = json.loads(services.manifest_path(dump).read_text())
    assert document["sha256"] == run.sha256 == services.manifest_mod.sha256_of(dump)
    assert document["server_version"].startswith("15")
    assert document["tables"]["public.projects_project"]["rows"] == Project.objects.count() == 7
    assert document["tables"]["public.projects_project"]["sample"]
    assert run.manifest["rows"] == sum(t["rows"] for t in document["tables"].values())
    assert sorted(p.name for p in backup_dir.iterdir()) == [dump.name, dump.name + ".json"]
    assert services.backups_good() == [run]


def test_restore_is_a_dry_run_until_apply_then_round_trips(backup_dir, scratch_databases):
    ProjectFactory.create_batch(3)
    run = services.backup_create()
    name = f"{connections['owner'].settings_dict['NAME']}_restored"
    scratch_databases.append(name)
    call_command("restore", "--into", name, "--backup", str(run.pk), verbosity=0)
    with target().connect("postgres", autocommit=True) as admin:
        assert not services._database_exists(admin, name)  # dry run: nothing created
    call_command("restore", "--into", name, "--backup", str(run.pk), "--apply", verbosity=0)
    assert _count(name, "projects_project") == 3
    # The restored database is the app's schema, triggers included.
    assert _count(name, "django_migrations") == _count(
        connections["owner"].settings_dict["NAME"], "django_migrations"
    )


def test_restore_never_replaces_a_database_unless_forced_with_the_name_twice(
    backup_dir, scratch_databases
):
    run = services.backup_create()
    live = connections["owner"].settings_dict["NAME"]
    with pytest.raises(CommandError, match="exists \\(a live database\\)"):
        call_command("restore", "--into", live, "--apply", verbosity=0)
    with pytest.raises(CommandError, match="--confirm"):
        call_command("restore", "--into", live, "--force", "--apply", verbosity=0)
    with pytest.raises(CommandError, match="--confirm"):
        call_command("restore", "--into", live, "--force", "--confirm", "other", "--apply")
    with pytest.raises(CommandError, match="lower-case"):
        call_command("restore", "--into", 'x"; DROP DATABASE y; --', "--apply")
    # Forced with the name twice, over a scratch database that exists: replaced.
    name = f"{live}_forced"
    scratch_databases.append(name)
    services.backup_restore(backup=Path(run.path), into=name, apply=True)
    with target().connect(name) as conn:
        conn.execute("DELETE FROM django_migrations")
        conn.commit()
    call_command("restore", "--into", name, "--force", "--confirm", name, "--apply", verbosity=0)
    assert _count(name, "django_migrations") > 0


def test_restore_refuses_a_damaged_dump(backup_dir):
    run = services.backup_create()
    with Path(run.path).open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(CommandError, match="checksum differs"):
        call_command("restore", "--into", "never_created", "--apply", verbosity=0)


def test_restore_verification_passes_then_catches_a_lying_manifest(backup_dir):
    ProjectFactory.create_batch(4)
    run = services.backup_create()
    test = services.restore_verify()
    assert test.status == RestoreStatus.PASSED, (test.error, test.mismatches)
    assert test.backup == run and test.tables_checked == run.manifest["tables"]
    assert test.rows_checked == run.manifest["rows"]
    assert findings.backup_findings() == []
    # The manifest says 5 projects, the dump holds 4 (the sha is of the dump, which is intact).
    path = services.manifest_path(Path(run.path))
    document = json.loads(path.read_text())
    document["tables"]["public.projects_project"]["rows"] = 5
    document["tables"]["public.auth_group"]["sample"] = "0" * 32
    document["schema"]["triggers"] += 1  # as if a trigger had been lost in the restore
    path.write_text(json.dumps(document))
    failed = services.restore_verify()
    assert failed.status == RestoreStatus.FAILED
    problems = {m["table"]: m for m in failed.mismatches}
    assert problems["public.projects_project"] == {
        "table": "public.projects_project",
        "problem": "row count",
        "expected": 5,
        "got": 4,
    }
    assert problems["public.auth_group"]["problem"] == "sample rows checksum differs"
    assert problems["(schema)"]["problem"] == "triggers"
    assert {f["key"]: f["severity"] for f in findings.backup_findings()} == {
        "backup.restore_failed": "critical"
    }
    with target().connect("postgres") as admin:  # the scratch databases are gone
        left = admin.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'flowbase\\_verify\\_%%'"
        ).fetchone()[0]
    assert left == 0


def _children_named(name: str) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            comm = fields[0].split("(", 1)[1]
            ppid = int(fields[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if comm == name and ppid == os.getpid():
            out.append(int(stat.parent.name))
    return out


def test_a_backup_killed_mid_way_is_never_listed_as_good(backup_dir):
    ProjectFactory.create_batch(2)
    result: dict = {}
    # pg_dump waits for this lock on one table after it started writing: kill it there.
    with target().connect() as blocker:
        blocker.execute("LOCK TABLE projects_project IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=lambda: result.update(run=services.backup_create()))
        worker.start()
        deadline = time.monotonic() + 30
        while not (pids := _children_named("pg_dump")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pids, "pg_dump did not start"
        while time.monotonic() < deadline:
            waiting = blocker.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'"
                " AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.05)
        partial = list(backup_dir.glob(".*.partial"))
        assert partial, "the dump is written under a temporary name"
        os.kill(pids[0], signal.SIGKILL)
        blocker.rollback()
    worker.join(60)
    run = result["run"]
    assert run.status == BackupStatus.FAILED and "pg_dump exited with -9" in run.error
    assert list(backup_dir.iterdir()) == []  # no dump, no partial file, no manifest
    assert services.backups_good() == []
    assert not BackupRun.objects.filter(status=BackupStatus.OK).exists()
    with pytest.raises(CommandError, match="no finished logical backup"):
        call_command("restore", "--into", "never_created", verbosity=0)


def test_the_beat_job_backs_up_if_needed_verifies_and_lists(backup_dir, capsys):
    from apps.backups.tasks import restore_verify_task

    ProjectFactory.create_batch(2)
    result = restore_verify_task.apply().get()
    assert result["status"] == RestoreStatus.PASSED and result["mismatches"] == 0
    run = BackupRun.objects.get(pk=result["backup"])
    assert run.status == BackupStatus.OK and run.restore_tests.get().status == RestoreStatus.PASSED
    call_command("backup", "--list", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["last_restore_test"]) for r in listed] == [
        (run.pk, "ok", "passed")
    ]


def test_an_invalid_index_left_by_a_failed_concurrent_build_is_not_a_mismatch(backup_dir):
    """pg_dump leaves invalid indexes out; the manifest's schema count must too."""
    import psycopg

    ProjectFactory.create_batch(2)
    with target().connect(autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "CREATE UNIQUE INDEX CONCURRENTLY backups_test_invalid ON projects_project ((1))"
            )
        try:
            services.backup_create()
            test = services.restore_verify()
        finally:
            conn.execute("DROP INDEX IF EXISTS backups_test_invalid")
    assert test.status == RestoreStatus.PASSED, (test.error, test.mismatches)


def _unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def owner_on_two_hosts(monkeypatch):
    """The owner's settings as an HA pair's multi-host URL gives them: a first host that is
    down, then the real server."""
    settings_dict = connections["owner"].settings_dict
    monkeypatch.setitem(settings_dict, "HOST", f"127.0.0.1,{settings_dict['HOST']}")
    monkeypatch.setitem(settings_dict, "PORT", f"{_unused_port()},{settings_dict['PORT']}")
    options = dict(settings_dict.get("OPTIONS", {}), target_session_attrs="read-write")
    monkeypatch.setitem(settings_dict, "OPTIONS", options)
    return options


def test_backup_and_restore_take_the_read_write_host_of_a_multi_host_url(
    backup_dir, scratch_databases, owner_on_two_hosts
):
    ProjectFactory.create_batch(3)
    run = services.backup_create()
    assert run.status == BackupStatus.OK, run.error
    name = f"{connections['owner'].settings_dict['NAME']}_multihost"
    scratch_databases.append(name)
    call_command("restore", "--into", name, "--backup", str(run.pk), "--apply", verbosity=0)
    assert _count(name, "projects_project") == 3


def test_the_multi_host_url_s_session_attributes_reach_pg_dump(backup_dir, owner_on_two_hosts):
    """The attributes are passed on, not dropped: asking for a standby finds none here."""
    owner_on_two_hosts["target_session_attrs"] = "standby"
    assert target().env()["PGTARGETSESSIONATTRS"] == "standby"
    run = services.backup_create()
    assert run.status == BackupStatus.FAILED
    assert "standby" in run.error or "server is not in hot standby mode" in run.error
