"""Fault injection on loopback: real subprocesses (manage.py, a Celery worker) against the test
database and a Redis database of their own, killed with -9, restarted, cut off."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connections

from tests.ops.conftest import clean_archive, make_workflow, raw_connection  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
FAULT_REDIS_DB = 3  # neither `make run` (/0) nor the in-process test worker (/2)


def _url(alias: str) -> str:
    db = connections[alias].settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def redis_url(db: int = FAULT_REDIS_DB) -> str:
    return settings.REDIS_URL.rsplit("/", 1)[0] + f"/{db}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child process on the test database (app and owner logins)."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="dataplatform.settings.test",
        DATABASE_URL=_url("default"),
        MIGRATE_DATABASE_URL=_url("owner"),
        READONLY_DATABASE_URL=_url("readonly"),
        MONITOR_DATABASE_URL=_url("monitor"),
        REDIS_URL=redis_url(),
        DB_APPLICATION_NAME="flowbase-fault",
        CELERY_SKIP_CHECKS="1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("MAINTENANCE_DATABASE_URL", None)
    env.update(extra)
    return env


def manage(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, step=0.1):
    """Poll `predicate` until truthy; returns its value (fails the test after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def failed(proc) -> bool:
    return bool(getattr(proc, "test_failed", False))


@pytest.fixture
def children(request):
    """Processes a test starts; killed (by pid / own process group) if still running at the end."""
    started: list[subprocess.Popen] = []
    yield started
    outcome = getattr(request.node, "rep_call", None)
    for proc in started:
        proc.test_failed = outcome is None or outcome.failed
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9) if os.getpgid(proc.pid) == proc.pid else proc.kill()
            proc.wait(timeout=10)
        log = getattr(proc, "log_path", None)
        if log and not failed(proc):
            Path(log).unlink(missing_ok=True)


def start_worker(*, visibility_timeout: int, name: str, **env: str) -> subprocess.Popen:
    """A real prefork worker (its own process group, so kill -9 reaches master and children)."""
    with tempfile.NamedTemporaryFile(
        prefix=f"fault-worker-{name}-", suffix=".log", delete=False
    ) as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "dataplatform", "worker",
                "--pool=prefork", "--concurrency=1", "-Q", "celery,maintenance",
                "--without-mingle", "--without-gossip", "-l", "info", "-n", f"{name}@%h",
            ],
            cwd=ROOT,
            env=subprocess_env(CELERY_VISIBILITY_TIMEOUT=str(visibility_timeout), **env),
            # A file, not a pipe nobody reads (a full pipe would stall the worker).
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )  # fmt: skip
    proc.log_path = log.name  # kept for a failed test, removed otherwise
    return proc


def kill_group(proc: subprocess.Popen) -> None:
    """kill -9 of the process group this test started (worker master and its children)."""
    os.killpg(proc.pid, 9)
    proc.wait(timeout=10)


def producer():
    """A Celery client on the fault Redis database (the project app may be pointed elsewhere)."""
    from celery import Celery

    return Celery("faults", broker=redis_url(), backend=redis_url(), set_as_current=False)


def flush_fault_redis() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (the children fixture reads rep_call)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def archive_through_worker():
    """Send a slow archive job (one workflow per batch, half a second apart) to the maintenance
    queue and return its ArchiveRun once it is running with two batches done."""
    from apps.ops.models import ArchiveRun

    producer().send_task(
        "apps.ops.tasks.archive_task",
        kwargs={"older_than_days": 365, "batch_size": 1, "pause_seconds": 0.5},
        queue="maintenance",
    )
    return wait_until(
        lambda: ArchiveRun.objects.filter(outcome="running", batches__gte=2).first(),
        timeout=60,
        what="the worker to start archiving",
    )
