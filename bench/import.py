"""import_filestore vs raw COPY vs a naive ORM import, export throughput, and peak memory.

`python bench/import.py [--tasks 100000] [--naive-tasks 20000] [--reps 5] [--naive-reps 2]
[--rss-tasks 300000]` — 20-25 minutes on the shared 2-core machine with the defaults (each part can
be skipped: --reps 0, --naive-reps 0, --rss-tasks 0; --reps 2 --naive-tasks 10000 takes ~12).

Runs in its own database (flowbase_bench_import, created, migrated and dropped again), so the demo
data of `make run` is untouched. Every writer starts from the same parsed and planned records, so
the rows must be identical, and the script checks that they are (tasks by file id with every
column the import writes, dependencies by file ids). Writers run interleaved (the order flips
each repetition) into empty task tables; p50 and p95 over the repetitions are printed.

- importer: `filestore_import` (COPY into a staging table, batched upserts, dependencies in
  dependents-first order).
- raw COPY: the same rows COPYed straight into the tables, ids reserved up front, with the
  importer's session settings (the `pgtrigger.ignore` fast path; fresh statistics and index scans
  for a bulk dependency write). All triggers on, as for the importer.
- naive ORM: one `save()` per task and per dependency, same records, same session setting. It is
  measured on its own smaller file (--naive-tasks), where it finishes in minutes, next to the
  importer on that same file: per-task rates compared at the same size, never extrapolated.
- replica lag (--replica-lag-tasks N, with the local standby: FLOWBASE_REPLICA=1 and `make env`'s
  exports): `filestore_import` of an N-task file while the primary's pg_stat_replication (replay
  lag, bytes behind) is sampled every 50 ms (bench/_replica.py); import time, max and p95.
- peak RSS: `import_filestore` in a child process on a ~100 MB file of --rss-tasks small tasks
  (the hard case: many objects per byte), next to `json.load` of the same file.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DB = "flowbase_bench_import"
# Measured before the streaming importer (commit d048429, same machine, same generator):
RSS_BEFORE = {"file_mb": 101.9, "tasks": 300_000, "peak_mb": 647.0}


def _point_at_bench_database() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://flowbase@127.0.0.1:54329/flowbase")
    parts = urlsplit(url)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    return urlunsplit(parts._replace(path="/postgres"))


ADMIN_URL = _point_at_bench_database()

import psycopg  # noqa: E402

with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
    admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {BENCH_DB}")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _replica import LagSampler, standby_urls  # noqa: E402
from _setup import ROOT  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

from apps.filestore import jsonio, sql  # noqa: E402
from apps.filestore.exporting import write_tasks_json  # noqa: E402
from apps.filestore.parsing import parse_file  # noqa: E402
from apps.filestore.planning import plan_tag, write_order  # noqa: E402
from apps.filestore.services import (  # noqa: E402
    ANALYZE_AFTER,
    filestore_import,
    project_ensure,
    staged_values,
    tag_legacy,
)
from apps.projects.models import Project  # noqa: E402
from apps.tasks.models import Task, TaskDependency  # noqa: E402
from apps.workflows.models import Workflow  # noqa: E402
from tests.factories.filestore import tasks_document  # noqa: E402


# --- writers -------------------------------------------------------------------------------------
def planned(path: Path):
    parsed = parse_file(path, "tasks")
    assert parsed.ok, parsed.problems.errors[:3]
    return parsed, [(tag, plan_tag(tag, parsed.problems)) for tag in parsed.tasks.tags]


def _workflow(project, tag, shape) -> Workflow:
    return Workflow.objects.create(
        project=project,
        name=tag.name,
        description=(tag.metadata or {}).get("description", ""),
        legacy=jsonio.plain(tag_legacy(tag, shape)),
    )


def copy_import(path: Path, project_name: str) -> None:
    """The same rows COPYed straight into the same tables, with the importer's session settings."""
    parsed, plans = planned(path)
    with transaction.atomic():
        sql.pgtrigger_fast_path()
        project = project_ensure(name=project_name)
        for tag, plan in plans:
            workflow = _workflow(project, tag, parsed.tasks.shape)
            with connection.cursor() as cursor:
                n = len(plan.tasks)
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('tasks_task', 'id')), "
                    "setval(pg_get_serial_sequence('tasks_task', 'id'), "
                    "nextval(pg_get_serial_sequence('tasks_task', 'id')) + %s)",
                    [n],
                )
                first = cursor.fetchone()[0] + 1
                ids = {t.index: first + i for i, t in enumerate(plan.tasks)}
                raw = cursor.cursor
                with raw.copy(
                    "COPY tasks_task (id, workflow_id, parent_id, external_key, title, description,"
                    " details, test_strategy, status, priority, legacy, requirements,"
                    " acceptance_criteria, assignee, created_at, updated_at) FROM STDIN"
                ) as copy:
                    for t in plan.tasks:
                        parent = ids[t.parent.index] if t.parent is not None else None
                        values = staged_values(t, plan)
                        fixed = ("[]", "[]", "", "now", "now")
                        copy.write_row((ids[t.index], workflow.pk, parent, t.key, *values, *fixed))
            if len(plan.edges) >= ANALYZE_AFTER:  # as the importer does for a bulk write
                sql.analyze_tasks()
                sql.index_scans_only(True)
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    "COPY tasks_taskdependency (task_id, depends_on_id, type, created_at) FROM STDIN"
                ) as copy,
            ):
                for a, b in write_order(plan):
                    copy.write_row((ids[a], ids[b], "blocks", "now"))
            sql.index_scans_only(False)


def naive_import(path: Path, project_name: str) -> None:
    """The straightforward port: one ORM save() per task and per dependency."""
    parsed, plans = planned(path)
    with transaction.atomic():
        sql.pgtrigger_fast_path()  # the importer's transaction setting, like for like
        project = project_ensure(name=project_name)
        for tag, plan in plans:
            workflow = _workflow(project, tag, parsed.tasks.shape)
            saved: dict[int, Task] = {}
            for t in plan.tasks:
                title, description, details, test_strategy, status, priority, legacy = (
                    staged_values(t, plan)
                )
                task = Task(
                    workflow=workflow,
                    parent=saved[t.parent.index] if t.parent is not None else None,
                    external_key=t.key,
                    title=title,
                    description=description,
                    details=details,
                    test_strategy=test_strategy,
                    status=status,
                    priority=priority,
                    legacy=json.loads(legacy),
                )
                task.save()
                saved[t.index] = task
            for a, b in write_order(plan):
                TaskDependency(task=saved[a], depends_on=saved[b]).save()


def importer(path: Path, project_name: str) -> None:
    report = filestore_import(paths=[path], project_name=project_name)
    assert report.ok, [p.message for f in report.files for p in f.errors][:3]


def export(project_name: str) -> int:
    buffer = io.StringIO()
    summary = write_tasks_json(buffer, project=Project.objects.get(name=project_name))
    return summary.tasks


# --- checks and helpers --------------------------------------------------------------------------
_ROWS = """
SELECT md5(string_agg(concat_ws('|', t.external_key, p.external_key, t.title, t.description,
                                t.details, t.test_strategy, t.status, t.priority, t.legacy::text),
                      E'\\n' ORDER BY t.external_key)), count(*)
FROM tasks_task t JOIN workflows_workflow w ON w.id = t.workflow_id
JOIN projects_project pr ON pr.id = w.project_id LEFT JOIN tasks_task p ON p.id = t.parent_id
WHERE pr.name = %s
"""
_EDGES = """
SELECT md5(string_agg(a.external_key || '>' || b.external_key, ',' ORDER BY a.external_key,
                      b.external_key)), count(*)
FROM tasks_taskdependency d JOIN tasks_task a ON a.id = d.task_id
JOIN tasks_task b ON b.id = d.depends_on_id JOIN workflows_workflow w ON w.id = a.workflow_id
JOIN projects_project pr ON pr.id = w.project_id WHERE pr.name = %s
"""


def fingerprint(project_name: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(_ROWS, [project_name])
        rows = cursor.fetchone()
        cursor.execute(_EDGES, [project_name])
        return rows, cursor.fetchone()


def empty_tables() -> None:
    """Bench database only: every writer starts from empty task tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE tasks_taskdependency, tasks_task, workflows_workflow, projects_project CASCADE"
        )
        cursor.execute("VACUUM ANALYZE tasks_task")
        cursor.execute("VACUUM ANALYZE tasks_taskdependency")


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def line(label: str, seconds: list[float], tasks: int) -> str:
    p50, p95 = quantile(seconds, 0.5), quantile(seconds, 0.95)
    return (
        f"  {label:<44} p50 {p50:7.2f} s  p95 {p95:7.2f} s  {tasks / p50:9,.0f} tasks/s"
        f"  (n={len(seconds)})"
    )


def write_document(path: Path, tasks: int, text_size: int = 40) -> tuple[int, int]:
    document = tasks_document(
        top_level=tasks // 4, subtasks=3, tags=("master",), text_size=text_size
    )
    path.write_text(json.dumps(document, indent=2))
    n_tasks = n_deps = 0
    for body in document.values():
        for t in body["tasks"]:
            n_tasks += 1 + len(t["subtasks"])
            n_deps += len(t["dependencies"]) + sum(len(s["dependencies"]) for s in t["subtasks"])
    return n_tasks, n_deps


_CHILD = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.dev")
import django
django.setup()
from pathlib import Path
started = time.perf_counter()
if {mode!r} == "json":
    import json
    json.load(open({path!r}, encoding="utf-8"))
else:
    from apps.filestore.services import filestore_import
    report = filestore_import(paths=[Path({path!r})], project_name="bench rss")
    assert report.ok
# VmHWM: the peak since exec (ru_maxrss would carry over the forking parent's peak)
peak_kb = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
print(peak_kb / 1024, time.perf_counter() - started)
"""


def peak_rss(mode: str, path: Path) -> tuple[float, float]:
    code = _CHILD.format(root=str(ROOT), mode=mode, path=str(path))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=os.environ
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def replica_lag(tmp: Path, tasks: int) -> None:
    urls = standby_urls()
    if urls is None:
        print("\nreplica lag: skipped (needs the local standby: FLOWBASE_REPLICA=1, make env)")
        return
    empty_tables()
    path = tmp / "tasks-replica.json"
    n_tasks, n_deps = write_document(path, tasks)
    size_mb = path.stat().st_size / 1e6
    # Only the primary's view: the router's probe would read the bench database's standby copy
    # under the same replay, which is what replay_lag already measures.
    with LagSampler(urls[0]) as lag:
        seconds = timed(importer, path, "replica lag")
        time.sleep(1)  # the standby's last replay after the commit
    print(f"\nreplica lag under import_filestore of {n_tasks} tasks + {n_deps} dependencies")
    print(f"  ({size_mb:.0f} MB file): import {seconds:.1f} s; {lag.replay_line()}")
    path.unlink()


# --- main --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks incl. subtasks")
    parser.add_argument("--naive-tasks", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5, help="0: skip the --tasks part")
    parser.add_argument("--naive-reps", type=int, default=2, help="0: skip the naive part")
    parser.add_argument("--rss-tasks", type=int, default=300_000, help="0: skip the memory part")
    parser.add_argument(
        "--replica-lag-tasks",
        type=int,
        default=0,
        help="N: the standby's lag under an N-task import",
    )
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}; database: {BENCH_DB}")
    call_command("migrate", verbosity=0)

    tmp = Path(tempfile.mkdtemp())
    full, small = tmp / "tasks.json", tmp / "tasks-naive.json"
    n_tasks, n_deps = write_document(full, args.tasks)
    s_tasks, s_deps = write_document(small, args.naive_tasks)
    print(f"file: {full.stat().st_size / 1e6:.1f} MB, {n_tasks} tasks, {n_deps} dependencies")
    print(f"naive-size file: {s_tasks} tasks, {s_deps} dependencies", flush=True)

    times: dict[str, list[float]] = {}
    expected = None
    for rep in range(args.reps):
        empty_tables()
        writers = [("importer", importer), ("raw COPY", copy_import)]
        for name, writer in writers if rep % 2 == 0 else writers[::-1]:
            times.setdefault(name, []).append(timed(writer, full, name))
        times.setdefault("importer again (unchanged)", []).append(timed(importer, full, "importer"))
        times.setdefault("export_tasks", []).append(timed(export, "importer"))
        got = fingerprint("importer")
        assert got == fingerprint("raw COPY"), "importer and COPY wrote different rows"
        assert expected in (None, got)
        expected = got
        print(
            f"  rep {rep + 1}/{args.reps}: "
            + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
            flush=True,
        )
    if expected is not None:
        rows, edges = expected
        assert rows[1] == n_tasks and edges[1] == n_deps, (rows, edges)

    small_times: dict[str, list[float]] = {}
    for rep in range(max(args.reps, args.naive_reps) if args.naive_reps else 0):
        empty_tables()
        names = ["importer"] + (["naive ORM"] if rep < args.naive_reps else [])
        for name in names if rep % 2 == 0 else names[::-1]:
            writer = importer if name == "importer" else naive_import
            small_times.setdefault(name, []).append(timed(writer, small, name))
        if "naive ORM" in names:
            assert fingerprint("importer") == fingerprint("naive ORM"), "naive wrote other rows"
        print(
            f"  small rep {rep + 1}: "
            + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in small_times.items()),
            flush=True,
        )

    if times:
        size = full.stat().st_size / 1e6
        print(f"\n{n_tasks} tasks + {n_deps} dependencies ({size:.0f} MB), same rows checked:")
        for name in ("importer", "raw COPY", "importer again (unchanged)", "export_tasks"):
            print(line(name, times[name], n_tasks))
        importer_p50 = quantile(times["importer"], 0.5)
        copy_p50 = quantile(times["raw COPY"], 0.5)
        print(f"  importer / COPY speed: {100 * copy_p50 / importer_p50:.0f}% of COPY")
    if "naive ORM" in small_times:
        print(f"\n{s_tasks} tasks + {s_deps} dependencies, naive measured (not extrapolated):")
        for name in ("importer", "naive ORM"):
            print(line(name, small_times[name], s_tasks))
        ratio = quantile(small_times["naive ORM"], 0.5) / quantile(small_times["importer"], 0.5)
        print(f"  importer vs naive ORM at {s_tasks} tasks: {ratio:.1f}x faster per task")

    if args.replica_lag_tasks:
        replica_lag(tmp, args.replica_lag_tasks)

    if args.rss_tasks:
        empty_tables()
        big = tmp / "tasks-rss.json"
        write_document(big, args.rss_tasks)
        size_mb = big.stat().st_size / 1e6
        json_mb, _ = peak_rss("json", big)
        connections.close_all()
        after_mb, seconds = peak_rss("import", big)
        print(f"\npeak RSS, import_filestore of a {size_mb:.0f} MB file ({args.rss_tasks} tasks):")
        print(
            f"  after (streamed):  {after_mb:6.0f} MB = {after_mb / size_mb:.1f}x the file ({seconds:.0f} s)"
        )
        before = RSS_BEFORE
        print(
            f"  before (whole-file json.load, commit d048429, measured on a {before['file_mb']} MB"
            f" file): {before['peak_mb']:.0f} MB = {before['peak_mb'] / before['file_mb']:.1f}x"
        )
        print(f"  reference: json.load of the file alone: {json_mb:.0f} MB (incl. Django)")
        big.unlink()

    connections.close_all()
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    for path in (full, small):
        path.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
