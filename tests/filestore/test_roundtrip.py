"""import → export_tasks → the same tasks (ids, titles, statuses, dependencies, subtasks, extras)."""

import copy
import io
import json
import time

import pytest
from django.core.management import call_command

from tests.factories.filestore import tasks_document

pytestmark = pytest.mark.django_db

TASK_FIXTURES = {
    # fixture → the dependencies the importer reports and does not make edges: (tag, task, target);
    # they are kept as data, so the export still has them
    "tagged_project/.taskmaster/tasks/tasks.json": {("master", "2.3", "1.1")},
    "legacy_project/tasks/tasks.json": set(),
    "dangling.json": {("master", "1", "99"), ("master", "2.1", "2.7"), ("master", "2.1", "5.2")},
    "cycle.json": {("master", "3", "2")},
}


def canonical(document: dict, skipped: set = frozenset()) -> dict:
    """Dependencies as sorted full keys (ints inside subtasks are siblings); legacy → tagged."""
    if "tasks" in document:
        document = {"master": document}
    out = {}
    for tag, body in document.items():
        body = copy.deepcopy(body)
        for task in body["tasks"]:
            key = str(task["id"])
            task["dependencies"] = _deps(task.get("dependencies"), None, key, tag, skipped)
            for sub in task.get("subtasks") or []:
                sub_key = f"{key}.{sub['id']}"
                sub["dependencies"] = _deps(sub.get("dependencies"), key, sub_key, tag, skipped)
        out[tag] = body
    return out


def _deps(deps, parent, key, tag, skipped):
    if deps is None:
        return None
    full = [f"{parent}.{d}" if parent and isinstance(d, int) else str(d) for d in deps]
    return sorted(d for d in full if (tag, key, d) not in skipped)


def export(tmp_path, project: str) -> dict:
    out = tmp_path / f"{project}.json"
    call_command("export_tasks", project=project, output=str(out), stdout=io.StringIO())
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(TASK_FIXTURES))
def test_round_trip(name, fixtures, run_import, tmp_path):
    source = fixtures / name
    ok, _ = run_import(source, project="RoundTrip")
    assert ok or name in {"dangling.json", "cycle.json"}
    original = json.loads(source.read_text(encoding="utf-8"))
    exported = export(tmp_path, "RoundTrip")
    assert canonical(exported) == canonical(original)
    assert exported == original  # the same JSON, key order and whitespace aside


def test_export_one_workflow(fixtures, run_import, tmp_path):
    run_import(fixtures / "tagged_project", project="One")
    out = tmp_path / "one.json"
    call_command(
        "export_tasks",
        project="One",
        workflow="feature-auth",
        output=str(out),
        stdout=io.StringIO(),
    )
    document = json.loads(out.read_text())
    assert list(document) == ["feature-auth"]
    assert document["feature-auth"]["tasks"][1]["dependencies"] == ["1.2", 1] or sorted(
        map(str, document["feature-auth"]["tasks"][1]["dependencies"])
    ) == ["1", "1.2"]


def test_five_megabyte_file_round_trips(tmp_path, run_import):
    document = tasks_document(top_level=700, subtasks=2, tags=("master", "next"), text_size=600)
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(document, indent=2))
    assert path.stat().st_size > 5_000_000
    started = time.perf_counter()
    ok, report = run_import(path, project="Big")
    assert ok, report["files"][0]["errors"][:3]
    assert report["totals"]["task"]["created"] == 4_200
    assert time.perf_counter() - started < 30
    assert canonical(export(tmp_path, "Big")) == canonical(document)
    ok, again = run_import(path, project="Big")
    assert again["totals"]["task"]["unchanged"] == 4_200
