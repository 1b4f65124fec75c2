"""Importer vs naive ORM vs raw COPY on one generated 100k-task tasks.json (`python bench/import.py`).

Runs in its own database (flowbase_bench_import, created, migrated and dropped again), so the demo
data of `make run` is untouched. The naive importer (one ORM save() per task and per dependency)
is timed on a 10k-task subset and scaled linearly; the output says so (linear scaling flatters
it: its per-row cycle checks walk ever larger graphs). All three writers run with the same
`pgtrigger.ignore` transaction setting (apps/filestore/sql.py: pgtrigger_fast_path).
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DB = "flowbase_bench_import"


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
from _setup import ratio, timed  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

from apps.filestore import sql  # noqa: E402
from apps.filestore.parsing import parse_file  # noqa: E402
from apps.filestore.planning import plan_tag  # noqa: E402
from apps.filestore.services import filestore_import, project_ensure  # noqa: E402
from apps.tasks.models import Task, TaskDependency  # noqa: E402
from apps.workflows.models import Workflow  # noqa: E402
from tests.factories.filestore import tasks_document  # noqa: E402


def count_rows(document: dict) -> tuple[int, int]:
    tasks = deps = 0
    for body in document.values():
        for t in body["tasks"]:
            tasks += 1 + len(t["subtasks"])
            deps += len(t["dependencies"]) + sum(len(s["dependencies"]) for s in t["subtasks"])
    return tasks, deps


def naive_import(path: Path, project_name: str, *, fast_path: bool = True) -> None:
    """The straightforward port: one save() per task and per dependency."""
    data = json.loads(path.read_text())
    with transaction.atomic():
        if fast_path:  # the importer's transaction setting, for a like-for-like comparison
            sql.pgtrigger_fast_path()
        project = project_ensure(name=project_name)
        for tag, body in data.items():
            workflow = Workflow.objects.create(project=project, name=tag)
            by_key = {}
            for raw in body["tasks"]:
                task = Task(
                    workflow=workflow,
                    external_key=str(raw["id"]),
                    title=raw["title"],
                    description=raw.get("description") or "",
                    details=raw.get("details") or "",
                    test_strategy=raw.get("testStrategy") or "",
                    status=raw["status"].replace("-", "_"),
                    priority={"high": 8, "medium": 5, "low": 2}[raw["priority"]],
                )
                task.save()
                by_key[task.external_key] = task
                for sub in raw["subtasks"]:
                    child = Task(
                        workflow=workflow,
                        parent=task,
                        external_key=f"{raw['id']}.{sub['id']}",
                        title=sub["title"],
                        description=sub.get("description") or "",
                        status=sub["status"].replace("-", "_"),
                    )
                    child.save()
                    by_key[child.external_key] = child
            for raw in body["tasks"]:
                for dep in raw["dependencies"]:
                    TaskDependency(task=by_key[str(raw["id"])], depends_on=by_key[str(dep)]).save()
                for sub in raw["subtasks"]:
                    for dep in sub["dependencies"]:
                        target = f"{raw['id']}.{dep}" if isinstance(dep, int) else dep
                        TaskDependency(
                            task=by_key[f"{raw['id']}.{sub['id']}"], depends_on=by_key[target]
                        ).save()


def cycle_trigger(enabled: bool) -> None:
    """Bench database only: switch the dependency-cycle trigger (for the reference COPY)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'tasks_taskdependency'::regclass "
            "AND tgname LIKE 'pgtrigger_no_dependency_cycles%%'"
        )
        for (name,) in cursor.fetchall():
            action = "ENABLE" if enabled else "DISABLE"
            cursor.execute(f"ALTER TABLE tasks_taskdependency {action} TRIGGER {name}")


def copy_import(path: Path, project_name: str) -> None:
    """The floor: the same rows COPYed straight into the same tables (ids reserved up front)."""
    parsed = parse_file(path)
    with transaction.atomic():
        sql.pgtrigger_fast_path()
        project = project_ensure(name=project_name)
        for tag in parsed.tasks.tags:
            plan = plan_tag(tag, parsed.problems)
            workflow = Workflow.objects.create(project=project, name=tag.name)
            with connection.cursor() as cursor:
                n = len(plan.tasks)
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('tasks_task', 'id')), "
                    "setval(pg_get_serial_sequence('tasks_task', 'id'), "
                    "nextval(pg_get_serial_sequence('tasks_task', 'id')) + %s)",
                    [n],
                )
                first = cursor.fetchone()[0] + 1
                ids = {t.key: first + i for i, t in enumerate(plan.tasks)}
                raw = cursor.cursor
                with raw.copy(
                    "COPY tasks_task (id, workflow_id, parent_id, external_key, title, description,"
                    " details, test_strategy, status, priority, legacy, requirements,"
                    " acceptance_criteria, assignee, created_at, updated_at) FROM STDIN"
                ) as copy:
                    for t in plan.tasks:
                        copy.write_row(
                            (
                                ids[t.key],
                                workflow.pk,
                                ids.get(t.parent_key),
                                t.key,
                                t.title,
                                t.description,
                                t.details,
                                t.test_strategy,
                                t.status,
                                t.priority,
                                json.dumps(t.legacy),
                                "[]",
                                "[]",
                                "",
                                "now",
                                "now",
                            )
                        )
                with raw.copy(
                    "COPY tasks_taskdependency (task_id, depends_on_id, type, created_at) FROM STDIN"
                ) as copy:
                    for a, b in plan.edges:
                        copy.write_row((ids[a], ids[b], "blocks", "now"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks incl. subtasks")
    parser.add_argument("--naive-tasks", type=int, default=10_000)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; database: {BENCH_DB}", flush=True)
    call_command("migrate", verbosity=0)

    top = args.tasks // 4  # every task has 3 subtasks
    document = tasks_document(top_level=top, subtasks=3, tags=("master",))
    naive_doc = tasks_document(top_level=args.naive_tasks // 4, subtasks=3, tags=("master",))
    tmp = Path(tempfile.mkdtemp())
    full, subset = tmp / "tasks.json", tmp / "tasks-naive.json"
    full.write_text(json.dumps(document, indent=2))
    subset.write_text(json.dumps(naive_doc, indent=2))
    n_tasks, n_deps = count_rows(document)
    s_tasks, s_deps = count_rows(naive_doc)
    print(f"file: {full.stat().st_size / 1e6:.1f} MB, {n_tasks} tasks, {n_deps} dependencies")

    results: dict[str, float] = {}
    with timed("importer (import_filestore, full file)", results):
        report = filestore_import(paths=[full], project_name="bench importer")
    assert report.ok, report.files[0].errors[:3]
    with timed("importer re-run (all unchanged)", results):
        filestore_import(paths=[full], project_name="bench importer")
    with timed("raw COPY (same rows, same tables)", results):
        copy_import(full, "bench copy")
    cycle_trigger(False)
    with timed("reference: raw COPY with the cycle trigger disabled", results):
        copy_import(full, "bench copy without cycle trigger")
    cycle_trigger(True)
    with timed(f"naive ORM save() ({s_tasks} tasks, {s_deps} deps)", results):
        naive_import(subset, "bench naive")
    label = f"naive ORM save(), default settings ({s_tasks} tasks, {s_deps} deps)"
    with timed(label, results):
        naive_import(subset, "bench naive default", fast_path=False)
    scale = (n_tasks + n_deps) / (s_tasks + s_deps)
    naive_full = results[f"naive ORM save() ({s_tasks} tasks, {s_deps} deps)"] * scale
    naive_default = results[label] * scale
    importer = results["importer (import_filestore, full file)"]
    copy = results["raw COPY (same rows, same tables)"]
    print(f"  naive ORM scaled linearly to {n_tasks} tasks + {n_deps} deps: {naive_full:.1f} s")
    print(f"  naive ORM, default settings, scaled the same way: {naive_default:.1f} s")
    print(f"importer vs naive: {ratio(naive_full, importer):.1f}x faster (goal >= 30x)")
    print(f"importer vs naive with default settings: {ratio(naive_default, importer):.1f}x faster")
    print(f"importer vs COPY: {100 * copy / importer:.0f}% of COPY's speed (goal >= 50%)")
    floor = results["reference: raw COPY with the cycle trigger disabled"]
    print(f"(reference) importer vs COPY without the cycle trigger: {100 * floor / importer:.0f}%")
    print(f"importer throughput: {n_tasks / importer:,.0f} tasks/s")

    connections.close_all()
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    for path in (full, subset):
        path.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
