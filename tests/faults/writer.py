"""The app writing while a fault hits: one ORM transaction per "request" on `default`, with a
request's connection handling (closed when unusable or, CONN_MAX_AGE 0, after each one)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.db import InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from apps.ops.models import Heartbeat


@dataclass
class HeartbeatWriter:
    """Writes Heartbeat rows named `prefix` + n until stopped; records what committed (with
    the server port it committed on) and what failed (the full error text)."""

    prefix: str
    pause: float = 0.01  # between requests
    retry_pause: float = 0.05  # after a failed one: the retry is a fresh connection
    committed: list[tuple[float, str, int]] = field(default_factory=list)  # (at, name, port)
    failures: list[tuple[float, str]] = field(default_factory=list)
    begun: dict[str, float] = field(default_factory=dict)  # name -> when its attempt started
    stop: threading.Event = field(default_factory=threading.Event)
    crashed: BaseException | None = None

    def run(self, deadline: float) -> None:
        conn = connections["default"]
        n = 0
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                conn.close_if_unusable_or_obsolete()
                n += 1
                name = f"{self.prefix}{n}"
                self.begun[name] = time.monotonic()
                try:
                    with transaction.atomic():
                        Heartbeat.objects.create(name=name, beat_at=timezone.now())
                    self.committed.append((time.monotonic(), name, conn.connection.info.port))
                except (OperationalError, InterfaceError) as exc:
                    self.failures.append((time.monotonic(), str(exc)))
                    conn.close()
                    time.sleep(self.retry_pause)
                time.sleep(self.pause)
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            self.crashed = exc
        finally:
            conn.close()

    def commits_after(self, moment: float) -> list[tuple[float, str, int]]:
        """Commits of attempts begun after `moment`: one begun before it may still commit on
        the old server and be recorded later, since its thread can lose the GIL in between."""
        return [c for c in self.committed if self.begun[c[1]] > moment]
