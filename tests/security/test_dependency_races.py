"""No dependency cycle commits, whatever the isolation level, the ring length or the writer.

For READ COMMITTED, REPEATABLE READ and SERIALIZABLE, and rings of 2, 3 and 8 tasks, up to eight
concurrent writers (each on its own connection, all holding a snapshot taken before any of them
writes) each add one edge of a ring, through raw SQL, the ORM service and the importer's per-file
transaction. Afterwards a recursive query over the graph must find no task on a cycle. Under
READ COMMITTED the graph writers queue and the one that would close a ring is refused with the
cycle error; under snapshot isolation the writers that cannot see a committed edge fail with
SQLSTATE 40001, which the service and the importer retry until they succeed or meet the cycle.
The importer syncs each file's dependency lists, so there the last file of a ring wins.
"""

import threading
from pathlib import Path

import pytest

from tests.factories.domain import ProjectFactory, TaskFactory, WorkflowFactory
from tests.security import dependency_races as races
from tests.security.dependency_races import (
    COMMITTED,
    CYCLE_REFUSED,
    LEVELS,
    RING_LENGTHS,
    SERIALIZATION_FAILURE,
    WRITERS,
    Race,
)

pytestmark = pytest.mark.django_db(transaction=True)

SNAPSHOT_LEVELS = ("repeatable read", "serializable")
RESULTS: list[Race] = []


@pytest.fixture(scope="module", autouse=True)
def race_table(request):
    """Print every race's outcome at the end of the module (cycles committed, losers by kind)."""
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or not RESULTS:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line("dependency races (writers each adding one edge of a ring):")
        for race in RESULTS:
            reporter.write_line("  " + race.summary())


def make_rings(ring_length: int) -> list[list[int]]:
    """As many rings of `ring_length` tasks as eight writers can close, in one project."""
    workflow = WorkflowFactory()
    return [
        [t.pk for t in TaskFactory.create_batch(ring_length, workflow=workflow)]
        for _ in range(WRITERS // ring_length)
    ]


def finish(race: Race) -> Race:
    """Read the graph after the race, record the race for the table, and check it holds no
    cycle and every writer ended in a known way."""
    races.inspect_graph(race)
    RESULTS.append(race)
    assert race.tasks_on_cycles == [], race.summary()
    assert race.complete_rings == 0, race.summary()
    assert not [o for o in race.outcomes if o.startswith("unexpected")], race.outcomes
    return race


def expect_serialized(race: Race) -> None:
    """Without retries: READ COMMITTED refuses the edge that closes each ring; snapshot
    isolation lets the first writer commit and fails every other one with 40001."""
    rings = len(race.rings)
    if race.level == "read committed":
        assert race.kinds == {COMMITTED: rings * (race.ring_length - 1), CYCLE_REFUSED: rings}
    else:
        assert race.kinds == {COMMITTED: 1, SERIALIZATION_FAILURE: len(race.outcomes) - 1}


def expect_retried(race: Race) -> None:
    """With retries every writer ends as if the writers had run one after another: all edges
    commit except the one per ring that would close it."""
    rings = len(race.rings)
    assert race.kinds == {COMMITTED: rings * (race.ring_length - 1), CYCLE_REFUSED: rings}
    retried = sum(1 for a in race.attempts if a > 1)
    if race.level == "read committed":
        assert retried == 0, race.attempts  # the row lock makes them wait; nothing to retry
    else:
        assert retried >= len(race.outcomes) - 1, race.attempts


def expect_last_file_wins(race: Race) -> None:
    """A re-import makes each task's dependencies exactly the file's, and every racing file holds
    the whole ring with one edge: run one after another, the last file wins, so each ring ends
    with exactly one edge and every writer commits (after retries under snapshot isolation)."""
    assert race.kinds == {COMMITTED: len(race.outcomes)}, race.summary()
    assert race.edges_per_ring == [1] * len(race.rings), race.edges_per_ring
    retried = sum(1 for a in race.attempts if a > 1)
    if race.level != "read committed":
        assert retried >= len(race.outcomes) - 1, race.attempts


def each_ring_length(run, expect) -> None:
    """One race per ring length; all of them run before any is checked."""
    results = [run(ring_length) for ring_length in RING_LENGTHS]
    for race in results:
        expect(finish(race))


@pytest.mark.parametrize("level", LEVELS)
def test_second_writer_waits_for_the_first_then_sees_its_edge_or_fails(level):
    """The two-connection race, step by step: the second writer of the project's graph waits
    for the first one's transaction, then is refused (READ COMMITTED: its fresh snapshot sees
    the edge) or fails with 40001 (snapshot isolation: its snapshot cannot see it)."""
    a, b = (t.pk for t in TaskFactory.create_batch(2, workflow=WorkflowFactory()))
    with races.connect() as first, races.connect() as second:
        for conn in (first, second):
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
            conn.execute("SELECT count(*) FROM tasks_taskdependency")  # snapshots taken
        first.execute(races.INSERT_EDGE, [a, b])
        outcome: list[str] = []
        thread = threading.Thread(target=races.insert_and_commit, args=(second, (b, a), outcome))
        thread.start()
        races.wait_until_blocked(second.info.backend_pid)
        first.commit()
        thread.join(races.TIMEOUT_S)
    expected = CYCLE_REFUSED if level == "read committed" else SERIALIZATION_FAILURE
    assert outcome == [expected]
    with races.connect(autocommit=True) as conn:
        assert conn.execute(
            "SELECT task_id, depends_on_id FROM tasks_taskdependency WHERE task_id = ANY(%s)",
            [[a, b]],
        ).fetchall() == [(a, b)]


@pytest.mark.parametrize("level", LEVELS)
def test_raw_sql_writers_commit_no_cycle(level):
    def race(ring_length: int) -> Race:
        rings = make_rings(ring_length)
        result = Race("raw SQL", level, ring_length, rings)
        result.outcomes, result.attempts = races.run_writers(
            races.raw_sql_writers(level, races.ring_edges(rings))
        )
        return result

    each_ring_length(race, expect_serialized)


@pytest.mark.parametrize("level", LEVELS)
def test_service_writers_commit_no_cycle_and_retry_serialization_failures(level, settings):
    settings.DB_SERIALIZATION_RETRY_ATTEMPTS = WRITERS  # each failure follows another's commit

    def race(ring_length: int) -> Race:
        rings = make_rings(ring_length)
        result = Race("service", level, ring_length, rings)
        result.outcomes, result.attempts = races.run_writers(
            races.service_writers(level, races.ring_edges(rings))
        )
        return result

    each_ring_length(race, expect_retried)


@pytest.mark.parametrize("level", SNAPSHOT_LEVELS)
def test_service_without_retries_surfaces_the_serialization_failure(level, settings):
    settings.DB_SERIALIZATION_RETRY_ATTEMPTS = 1
    rings = make_rings(2)
    race = Race("service/1", level, 2, rings)
    race.outcomes, race.attempts = races.run_writers(
        races.service_writers(level, races.ring_edges(rings))
    )
    expect_serialized(finish(race))


def importer_race(level: str, ring_length: int, directory: Path) -> Race:
    from apps.filestore.services import filestore_import
    from apps.tasks.models import Task

    project = ProjectFactory(name=f"Race {level} {ring_length}")
    tags = [f"ring-{r}" for r in range(WRITERS // ring_length)]
    keys = [str(k) for k in range(1, ring_length + 1)]
    # The tasks exist already (a first import), so the racing files differ only in one edge each.
    base = races.tasks_file(directory, "base", {tag: [(k, []) for k in keys] for tag in tags})
    assert filestore_import(paths=[base], project_name=project.name).ok
    files = [
        races.tasks_file(
            directory / tag,
            key,
            {tag: [(k, [keys[(i + 1) % ring_length]] if k == key else []) for k in keys]},
        )
        for tag in tags
        for i, key in enumerate(keys)
    ]
    ids = {
        (t.workflow.name, t.external_key): t.pk
        for t in Task.objects.filter(workflow__project=project).select_related("workflow")
    }
    race = Race("importer", level, ring_length, [[ids[(tag, k)] for k in keys] for tag in tags])
    race.outcomes, race.attempts = races.run_writers(
        races.importer_writers(level, project.name, files)
    )
    return race


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_importer_files_commit_no_cycle_and_retry_serialization_failures(level, settings, tmp_path):
    settings.DB_SERIALIZATION_RETRY_ATTEMPTS = WRITERS
    each_ring_length(
        lambda n: importer_race(level, n, tmp_path / f"ring{n}"), expect_last_file_wins
    )
