"""Concurrent dependency writers on real connections: the harness of test_dependency_races.

Every writer runs in its own thread on its own database connection. A barrier makes all of them
take their transaction snapshot before any of them writes, so each race is the worst case for
snapshot isolation: no writer can see another's edge through its snapshot.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection

from apps.pg.errors import sqlstate
from tests.db import app_session

LEVELS = ("read committed", "repeatable read", "serializable")
RING_LENGTHS = (2, 3, 8)
WRITERS = 8
TIMEOUT_S = 30

COMMITTED = "committed"
CYCLE_REFUSED = "cycle refused"
SERIALIZATION_FAILURE = "serialization failure (40001)"
DEADLOCK = "deadlock (40P01)"

INSERT_EDGE = (
    "INSERT INTO tasks_taskdependency (task_id, depends_on_id, type, created_at)"
    " VALUES (%s, %s, 'blocks', now())"
)

# Tasks of `ids` that reach themselves along "depends on" edges, i.e. lie on a committed cycle.
TASKS_ON_CYCLES = """
WITH RECURSIVE walk(start, node) AS (
    SELECT d.task_id, d.depends_on_id FROM tasks_taskdependency d WHERE d.task_id = ANY(%s)
    UNION
    SELECT w.start, d.depends_on_id FROM walk w JOIN tasks_taskdependency d ON d.task_id = w.node
)
SELECT DISTINCT start FROM walk WHERE start = node ORDER BY start
"""


@dataclass
class Race:
    """The outcome of one race: what each writer got, and what the graph holds afterwards."""

    path: str
    level: str
    ring_length: int
    rings: list[list[int]]
    outcomes: list[str] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    tasks_on_cycles: list[int] = field(default_factory=list)
    complete_rings: int = 0
    edges_per_ring: list[int] = field(default_factory=list)

    @property
    def kinds(self) -> Counter:
        return Counter(self.outcomes)

    def summary(self) -> str:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(self.kinds.items()))
        retried = sum(1 for a in self.attempts if a > 1)
        return (
            f"{self.path:<9} {self.level:<16} ring {self.ring_length}: "
            f"{len(self.outcomes)} writers, cycles committed {self.complete_rings}; {kinds}"
            + (f"; {retried} retried (max {max(self.attempts)} attempts)" if retried else "")
        )


def ring_edges(rings: list[list[int]]) -> list[tuple[int, int]]:
    """Each ring a -> b -> ... -> a, as one edge per writer."""
    return [(ring[i], ring[(i + 1) % len(ring)]) for ring in rings for i in range(len(ring))]


def classify(exc: BaseException) -> str:
    state = sqlstate(exc)
    if state == "40001":
        return SERIALIZATION_FAILURE
    if state == "40P01":
        return DEADLOCK
    if "dependency cycle" in str(exc):
        return CYCLE_REFUSED
    return f"unexpected: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def connect(*, observer: bool = False, **overrides) -> psycopg.Connection:
    """A psycopg connection of its own to the test database (outside Django)."""
    return app_session(observer=observer, **overrides)


def run_writers(writers: list[Callable[[], tuple[str, int]]]) -> tuple[list[str], list[int]]:
    """Run each writer in its own thread; returns their outcomes and attempt counts in order."""
    results: list[tuple[str, int] | None] = [None] * len(writers)

    def run(index: int) -> None:
        try:
            results[index] = writers[index]()
        except BaseException as exc:  # a broken writer must fail the test, not hang it
            results[index] = (f"unexpected: {exc!r}", 1)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a writer hung (lock wait or barrier)"
    return [r[0] for r in results], [r[1] for r in results]


def inspect_graph(race: Race) -> Race:
    ids = [task for ring in race.rings for task in ring]
    with connect(autocommit=True) as conn:
        race.tasks_on_cycles = [row[0] for row in conn.execute(TASKS_ON_CYCLES, [ids]).fetchall()]
        edges = set(
            conn.execute(
                "SELECT task_id, depends_on_id FROM tasks_taskdependency WHERE task_id = ANY(%s)",
                [ids],
            ).fetchall()
        )
    race.complete_rings = sum(
        1 for ring in race.rings if all(e in edges for e in ring_edges([ring]))
    )
    race.edges_per_ring = [sum(1 for e in ring_edges([ring]) if e in edges) for ring in race.rings]
    return race


def insert_and_commit(conn: psycopg.Connection, edge: tuple[int, int], outcome: list[str]) -> None:
    try:
        conn.execute(INSERT_EDGE, edge)
        conn.commit()
        outcome.append(COMMITTED)
    except psycopg.Error as exc:
        conn.rollback()
        outcome.append(classify(exc))


def wait_until_blocked(pid: int) -> None:
    """Until backend `pid` waits for a lock (the graph row another transaction holds)."""
    with connect(observer=True, autocommit=True) as observer:
        for _ in range(200):  # 10 s
            row = observer.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.05)
    raise AssertionError("the second writer never waited for the first")


# --- writers ---------------------------------------------------------------------------------
def raw_sql_writers(level: str, edges: list[tuple[int, int]]) -> list[Callable]:
    """psycopg connections of their own: BEGIN ISOLATION LEVEL …; snapshot; INSERT; COMMIT."""
    barrier = threading.Barrier(len(edges), timeout=TIMEOUT_S)

    def writer(edge: tuple[int, int]) -> Callable[[], tuple[str, int]]:
        def write() -> tuple[str, int]:
            with connect() as conn:
                conn.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
                conn.execute("SELECT count(*) FROM tasks_taskdependency")  # takes the snapshot
                barrier.wait()
                outcome: list[str] = []
                insert_and_commit(conn, edge, outcome)
            return outcome[0], 1

        return write

    return [writer(edge) for edge in edges]


class _FirstAttemptBarrier:
    """Django execute_wrapper: before the first statement matching `marker`, wait at the barrier
    (the transaction's snapshot is taken by then); counts the attempts that reach it."""

    def __init__(self, barrier: threading.Barrier, marker: str) -> None:
        self.barrier, self.marker, self.attempts = barrier, marker, 0

    def __call__(self, execute, sql, params, many, context):
        if self.marker in sql:
            self.attempts += 1
            if self.attempts == 1:
                self.barrier.wait()
        return execute(sql, params, many, context)


def _in_django_thread(level: str, body: Callable[[], str], wrapper) -> tuple[str, int]:
    """Run `body` on this thread's own Django connection at `level`, then close it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level}")
        with connection.execute_wrapper(wrapper):
            try:
                outcome = body()
            except (ValidationError, DatabaseError) as exc:
                outcome = classify(exc)
        return outcome, wrapper.attempts
    finally:
        connection.close()


def service_writers(level: str, edges: list[tuple[int, int]]) -> list[Callable]:
    """apps.tasks.services.task_dependency_create, each on its thread's Django connection."""
    from apps.tasks.models import Task
    from apps.tasks.services import task_dependency_create

    barrier = threading.Barrier(len(edges), timeout=TIMEOUT_S)

    def writer(edge: tuple[int, int]) -> Callable[[], tuple[str, int]]:
        def write() -> tuple[str, int]:
            wrapper = _FirstAttemptBarrier(barrier, 'INSERT INTO "tasks_taskdependency"')

            def body() -> str:
                task, depends_on = (Task.objects.get(pk=pk) for pk in edge)
                task_dependency_create(task=task, depends_on=depends_on)
                return COMMITTED

            return _in_django_thread(level, body, wrapper)

        return write

    return [writer(edge) for edge in edges]


def tasks_file(directory: Path, name: str, tags: dict[str, list[tuple[str, list[str]]]]) -> Path:
    """A tagged tasks.json: {tag: [(task key, [dependency keys])]}."""
    document = {
        tag: {
            "tasks": [
                {"id": int(key), "title": f"Task {key}", "status": "pending", "dependencies": deps}
                for key, deps in tasks
            ]
        }
        for tag, tasks in tags.items()
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(document))
    return path


def importer_writers(
    level: str, project: str, files: list[Path]
) -> list[Callable[[], tuple[str, int]]]:
    """apps.filestore's import, one file per writer, each on its thread's Django connection."""
    from apps.filestore.services import filestore_import

    barrier = threading.Barrier(len(files), timeout=TIMEOUT_S)

    def writer(path: Path) -> Callable[[], tuple[str, int]]:
        def write() -> tuple[str, int]:
            # The plan's reads take the snapshot; the project lock is the first write.
            wrapper = _FirstAttemptBarrier(barrier, "FOR UPDATE")

            def body() -> str:
                report = filestore_import(paths=[path], project_name=project)
                (file_report,) = report.files
                if file_report.counts("dependency").created == 1:
                    return COMMITTED
                messages = " | ".join(p.message for p in file_report.problems)
                if "could not serialize" in messages:
                    return SERIALIZATION_FAILURE
                if "deadlock" in messages:
                    return DEADLOCK
                if "dependency cycle" in messages:
                    return CYCLE_REFUSED
                return f"unexpected: {file_report.status}: {messages}"

            return _in_django_thread(level, body, wrapper)

        return write

    return [writer(path) for path in files]
