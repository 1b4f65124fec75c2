"""Redis stopped and started under a running worker: the worker reconnects and takes jobs again,
and a job queued before the restart is still there afterwards (Redis with its append-only file,
as production must run it; `make run`'s throwaway Redis has none)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import pytest
from celery import Celery

from apps.ops.models import Heartbeat

from .conftest import kill_group, start_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class LocalRedis:
    """A redis-server of this test's own, on a free loopback port, persisting to `data_dir`."""

    def __init__(self, data_dir):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.data_dir, self.proc = data_dir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.data_dir), "--appendonly", "yes", "--appendfsync", "always",
             "--save", ""],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, timeout=10, what="redis-server to start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)  # a clean shutdown, as a restart would do
        self.proc.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def local_redis(tmp_path):
    server = LocalRedis(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


def heartbeat_done(name: str):
    return lambda: Heartbeat.objects.filter(name=name).exists()


def test_jobs_resume_after_redis_restarts(local_redis, children):
    client = Celery("faults-redis", broker=local_redis.url, set_as_current=False)

    def send(name: str) -> None:
        client.send_task("apps.ops.tasks.beat_heartbeat_task", args=[name], ignore_result=True)

    worker = start_worker(visibility_timeout=300, name="redis", REDIS_URL=local_redis.url)
    children.append(worker)
    send("before-restart")
    wait_until(heartbeat_done("before-restart"), timeout=60, what="a job before the restart")

    local_redis.stop()
    time.sleep(1)  # the worker notices the lost connection
    local_redis.start()
    restarted_at = time.monotonic()
    send("after-restart")
    wait_until(heartbeat_done("after-restart"), timeout=60, what="a job after the restart")
    resumed_after = time.monotonic() - restarted_at

    # Queued while no worker runs, then Redis restarts: the job survives (append-only file).
    kill_group(worker)
    send("queued-across-restart")
    local_redis.stop()
    local_redis.start()
    second = start_worker(visibility_timeout=300, name="redis2", REDIS_URL=local_redis.url)
    children.append(second)
    wait_until(heartbeat_done("queued-across-restart"), timeout=60, what="the job queued before it")
    kill_group(second)
    print(f"\nworker took jobs again {resumed_after:.1f} s after Redis restarted")
