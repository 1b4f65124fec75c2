"""Real-shaped Task Master and n8n files (fixtures/real_shapes, written from what public files
contain): each quirk imports, re-imports without touching a row, exports as it came in, and a
second generation equals the first."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow
from tests.filestore.conftest import totals

pytestmark = pytest.mark.django_db

REAL = Path(__file__).parent / "fixtures" / "real_shapes"
TASK_FILES = sorted(p.name for p in REAL.glob("*.json"))


def export(tmp_path: Path, project: str, *args: str) -> tuple[dict, Path]:
    out = tmp_path / f"export-{project}-{len(list(tmp_path.iterdir()))}.json"
    call_command(
        "export_tasks", "--project", project, "--output", str(out), *args, stdout=io.StringIO()
    )
    return json.loads(out.read_text(encoding="utf-8")), out


def stamps(project: str) -> dict:
    """Every row the import wrote for the project, with its updated_at."""
    rows = {
        ("workflow", w.name): w.updated_at for w in Workflow.objects.filter(project__name=project)
    }
    for t in Task.objects.filter(workflow__project__name=project).select_related("workflow"):
        rows[("task", t.workflow.name, t.external_key)] = t.updated_at
    return rows


def edges(project: str) -> set:
    """Dependencies by the file's ids: (tag, task id, depends-on id)."""
    return set(
        TaskDependency.objects.filter(task__workflow__project__name=project).values_list(
            "task__workflow__name", "task__external_key", "depends_on__external_key"
        )
    )


def assert_counts_consistent(report: dict) -> None:
    for f in report["files"]:
        if f["status"] in ("imported", "unchanged"):
            task = f["entities"].get("task")
            if task:
                assert task["read"] == task["created"] + task["updated"] + task["unchanged"], f
            dep = f["entities"].get("dependency")
            if dep:
                assert dep["read"] == dep["created"] + dep["unchanged"] + dep["skipped"], f


@pytest.mark.parametrize("name", TASK_FILES)
def test_round_trip_laws(name, run_import, tmp_path):
    source = REAL / name
    original = json.loads(source.read_text(encoding="utf-8"))
    ok, first = run_import(source, project="First")
    assert ok, first["files"][0]["errors"][:3]
    assert_counts_consistent(first)
    before = stamps("First")

    ok, again = run_import(source, project="First")
    assert ok
    assert stamps("First") == before  # no row touched
    assert {f["status"] for f in again["files"]} == {"unchanged"}
    for entity, counts in again["totals"].items():
        assert counts["created"] == counts["updated"] == counts["deleted"] == 0, entity

    exported, path = export(tmp_path, "First")
    assert exported == original

    ok, _ = run_import(path, project="Second")
    assert ok
    second, _ = export(tmp_path, "Second")
    assert second == exported
    assert edges("Second") == edges("First")


def warnings_of(report: dict) -> list[dict]:
    return [w for f in report["files"] for w in f["warnings"]]


def test_foreign_statuses_and_priorities_map_with_one_warning_per_kind(run_import):
    ok, report = run_import(REAL / "foreign_statuses.json", project="Pay")
    assert ok
    tasks = {t.external_key: t for t in Task.objects.filter(workflow__project__name="Pay")}
    assert (tasks["1"].status, tasks["1"].priority) == ("done", 10)  # completed, critical
    assert tasks["1.1"].status == "pending"  # no status
    assert tasks["2"].status == tasks["1.2"].status == "pending"  # todo
    assert tasks["2"].priority == 10  # urgent
    assert tasks["3"].status == "cancelled"  # deprecated
    assert (tasks["4"].status, tasks["4"].priority) == ("in_progress", 8)  # "In Progress", "High"
    assert tasks["5"].priority == 7
    messages = [w["message"] for w in warnings_of(report)]
    foreign = [m for m in messages if "is not a Task Master" in m]
    assert sorted(foreign) == sorted(
        [
            "status 'completed' is not a Task Master status: read as 'done' (2 record(s), first at /tasks/0/status)",
            "status 'todo' is not a Task Master status: read as 'pending' (2 record(s), first at /tasks/0/subtasks/1/status)",
            "status 'deprecated' is not a Task Master status: read as 'cancelled' (1 record(s), first at /tasks/2/status)",
            "priority 'urgent' is not a Task Master priority: read as 'critical' (1 record(s), first at /tasks/1/priority)",
        ]
    )
    workflow = Workflow.objects.get(project__name="Pay")
    assert workflow.legacy["shape"] == "legacy"
    assert workflow.legacy["extra"]["meta"]["projectName"] == "Payments revamp"


def test_staff_edits_are_exported_in_canonical_form(run_import, tmp_path):
    run_import(REAL / "foreign_statuses.json", project="Edit")
    task = Task.objects.get(workflow__project__name="Edit", external_key="1")
    task.status, task.priority = "in_progress", 2
    task.save()
    TaskDependency.objects.filter(task__external_key="5", task__workflow=task.workflow).delete()
    exported, _ = export(tmp_path, "Edit")
    by_id = {t["id"]: t for t in exported["tasks"]}
    assert (by_id[1]["status"], by_id[1]["priority"]) == ("in-progress", "low")
    assert by_id[5]["dependencies"] == []  # was ["4"]: the list follows the database now
    assert by_id[3]["status"] == "deprecated"  # untouched: as read


def test_subtask_dependency_on_top_level_task_keeps_its_meaning(run_import, tmp_path):
    """ "2" in a subtask is top-level task 2, the int 2 its sibling 2 (the export wrote both as 2)."""
    run_import(REAL / "dependency_forms.json", project="Deps")
    assert {(a, b) for _, a, b in edges("Deps") if a in ("2.2", "3.1")} == {
        ("2.2", "2.1"),
        ("2.2", "1"),
        ("3.1", "2"),
        ("3.1", "3.2"),
    }
    # once the list is changed the canonical form must still say which task is meant
    extra = Task.objects.get(workflow__project__name="Deps", external_key="3.2")
    TaskDependency.objects.create(
        task=extra, depends_on=Task.objects.get(workflow=extra.workflow, external_key="2")
    )
    exported, path = export(tmp_path, "Deps")
    sub = exported["master"]["tasks"][2]["subtasks"][1]
    assert sub["dependencies"] == ["2"]
    run_import(path, project="Deps again")
    assert ("3.2", "2") in {(a, b) for _, a, b in edges("Deps again")}


def test_dependency_forms_are_kept_as_written(run_import):
    ok, report = run_import(REAL / "dependency_forms.json", project="Forms")
    assert ok
    by_pointer = {w["pointer"]: w["message"] for w in warnings_of(report)}
    assert "duplicate dependency '2' → '1'" in by_pointer["/master/tasks/1/dependencies/1"]
    assert "depends on '42', which does not exist" in by_pointer["/master/tasks/2/dependencies/2"]
    assert "depends on itself" in by_pointer["/master/tasks/2/dependencies/3"]
    assert "depends on '9.9'" in by_pointer["/master/tasks/2/subtasks/1/dependencies/0"]
    assert by_pointer["/master/tasks/4/dependencies/0"].startswith("dependency cycle: 5 → 4 → 5")
    dc = totals(report, "dependency")
    assert (dc["read"], dc["created"], dc["skipped"]) == (15, 9, 6)
    legacy = Task.objects.get(workflow__project__name="Forms", external_key="3").legacy
    assert legacy["_filestore"]["deps"] == [2, "2.2", 42, 3]


def test_ids_float_dotted_slug_and_duplicated(run_import):
    for name in (
        "float_ids.json",
        "dotted_ids.json",
        "slug_ids.json",
        "duplicate_subtask_ids.json",
    ):
        ok, report = run_import(REAL / name, project=name)
        assert ok, report["files"][0]["errors"]

    def keys(project):
        rows = Task.objects.filter(workflow__project__name=project)
        return set(rows.values_list("external_key", flat=True))

    assert keys("float_ids.json") == {"1", "3", "3.1", "3.2", "3.3", "4"}
    assert ("master", "3.3", "3.2") in edges("float_ids.json")
    assert ("master", "4", "3.2") in edges("float_ids.json")
    assert keys("dotted_ids.json") == {"13", "14", "14.1", "14.2", "14.3", "15"}
    assert ("master", "14.2", "13") in edges("dotted_ids.json")
    assert {"setup-db.seed", "3.routes", "deploy_pipeline"} <= keys("slug_ids.json")
    slug_edges = edges("slug_ids.json")
    assert ("master", "3.errors", "3.routes") in slug_edges  # a slug naming a sibling
    assert ("master", "setup-db.seed", "setup-db.schema") in slug_edges
    assert ("master", "3.routes", "setup-db") in slug_edges  # a slug naming a top-level task
    dup = keys("duplicate_subtask_ids.json")
    assert {"1.1", "1.1#2", "1.1#8"} <= dup and len(dup) == 10
    assert ("master", "1.1#2", "1.1") in edges("duplicate_subtask_ids.json")


def test_untitled_and_nested_subtasks(run_import):
    ok, report = run_import(REAL / "untitled_subtasks.json", project="Untitled")
    assert ok
    titles = dict(
        Task.objects.filter(workflow__project__name="Untitled").values_list("external_key", "title")
    )
    assert titles["1.1"] == "Snapshot the old index and copy it to the new cluster's repository."
    assert titles["1.2"] == "Restore the snapshot"
    assert titles["1.3"].endswith("…") and len(titles["1.3"]) <= 120
    [warning] = [w for w in warnings_of(report) if "no title" in w["message"]]
    assert "3 record(s)" in warning["message"]

    ok, report = run_import(REAL / "nested_subtasks.json", project="Nested")
    assert ok
    nested = Task.objects.get(workflow__project__name="Nested", external_key="1.1.2")
    assert nested.parent.external_key == "1.1" and nested.parent.parent.external_key == "1"
    assert ("master", "1.2", "1.1.2") in edges("Nested")
    assert ("master", "1.1.2", "1.1.1") in edges("Nested")


def test_extra_keys_at_every_level_are_kept(run_import):
    ok, report = run_import(REAL / "extra_keys.json", project="Extra")
    assert ok and warnings_of(report) == []
    task = Task.objects.get(
        workflow__project__name="Extra", workflow__name="master", external_key="1"
    )
    assert task.legacy["estimate"] == {"hours": 2.5, "confidence": 0.8}
    assert task.legacy["_filestore"]["keys"][:3] == ["testStrategy", "id", "status"]
    master = Workflow.objects.get(project__name="Extra", name="master")
    assert master.legacy["extra"] == {"settings": {"autoExpand": False}}
    assert master.description == "Tasks for master context"


def test_exact_number_forms_survive(run_import, tmp_path):
    run_import(REAL / "extra_keys.json", project="Numbers")
    _, path = export(tmp_path, "Numbers")
    assert '"hours": 2.50' in path.read_text()
    run_import(REAL / "float_ids.json", project="Floats")
    _, path = export(tmp_path, "Floats")
    assert '"id": 3.1' in path.read_text() and "3.1,\n" in path.read_text()


def test_both_layouts_one_config_state_kept(run_import):
    ok, report = run_import(REAL / "both_layouts", project="Layouts")
    assert ok
    kinds = {Path(f["path"]).name: f for f in report["files"]}
    assert set(kinds) == {"tasks.json", "config.json", "state.json"}
    assert kinds["tasks.json"]["path"].endswith(".taskmaster/tasks/tasks.json")
    [shadow] = kinds["tasks.json"]["warnings"]
    assert "tasks/tasks.json not imported" in shadow["message"]
    assert ".taskmaster" not in shadow["message"].split(" not imported")[0]
    [config_shadow] = kinds["config.json"]["warnings"]
    assert ".taskmasterconfig not imported" in config_shadow["message"]
    project = Project.objects.get(name="Layouts")
    assert project.settings["taskmaster"]["global"]["projectName"] == "Both layouts"
    assert project.settings["taskmaster_state"]["currentTag"] == "spike"
    assert list(Task.objects.filter(workflow__project=project).values_list("title", flat=True)) == [
        "Current task"
    ]
    ok, again = run_import(REAL / "both_layouts", project="Layouts")
    assert {f["status"] for f in again["files"]} == {"unchanged"}


def test_broken_config_shape_is_warned(run_import):
    ok, report = run_import(REAL / "broken_config", project="Broken")
    assert ok
    config = next(f for f in report["files"] if f["path"].endswith("config.json"))
    [warning] = config["warnings"]
    assert warning["pointer"] == "/models/main"
    assert "'claude-3-7-sonnet-20250219'" in warning["message"]


def test_n8n_collection_each_file_its_own_workflow(run_import):
    ok, report = run_import(REAL / "n8n_collection", project="Templates")
    assert ok
    workflows = {w.name: w for w in Workflow.objects.filter(project__name="Templates")}
    assert set(workflows) == {
        "My workflow",
        "My workflow (slack-notify)",
        "My workflow (templates-bundle #1)",
        "cron-backup",
        "Sync contacts",
    }
    assert workflows["My workflow"].external_key == "file:github-issues.json"
    assert workflows["My workflow (slack-notify)"].external_key == "n8n:101"
    assert workflows["cron-backup"].tags == ["ops"]
    assert workflows["cron-backup"].legacy["tags"][0]["id"] == "7"  # the objects, as exported
    messages = [w["message"] for w in warnings_of(report)]
    assert sum("is already used by another workflow" in m for m in messages) == 2
    assert any("no 'name': named 'cron-backup'" in m for m in messages)
    unknown = [w for w in warnings_of(report) if w["entity"] == "connection"]
    assert sorted(w["pointer"] for w in unknown) == [
        "/connections/IF/main/0/0/node",
        "/connections/IF/main/1/0/node",
        "/connections/Old Node/main/0/0",
    ]
    connection = totals(report, "connection")
    assert connection["read"] == 7 and connection["warnings"] == 3
    assert totals(report, "workflow")["read"] == 5

    before = {
        w.external_key: w.updated_at for w in Workflow.objects.filter(project__name="Templates")
    }
    ok, again = run_import(REAL / "n8n_collection", project="Templates")
    assert ok and {f["status"] for f in again["files"]} == {"unchanged"}
    after = {
        w.external_key: w.updated_at for w in Workflow.objects.filter(project__name="Templates")
    }
    assert after == before


def test_bad_files_fail_alone_with_path_and_pointer(run_import, fixtures):
    bad = REAL / "bad"
    ok, report = run_import(bad, fixtures / "legacy_project", project="Bad")
    assert not ok
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert by_name["tasks.json"]["status"] == "imported"
    expected = {
        "nul_byte.json": ("/master/tasks/1/title", "NUL character"),
        "lone_surrogate.json": ("/master/tasks/0/description", "lone UTF-16 surrogate"),
        "too_deep.json": ("/master/tasks/0/notes" + "/x" * 60, "nested deeper than 64"),
        "empty.json": ("", "empty file"),
        "unrelated_objects.json": ("", "wrong top-level type"),
        "duplicate_top_ids.json": ("/master/tasks/1/id", "duplicate task id '7'"),
        "no_title_no_description.json": ("/master/tasks/0/subtasks/0/title", "'title' is required"),
    }
    for name, (ptr, text) in expected.items():
        f = by_name[name]
        assert f["status"] == "failed", name
        error = f["errors"][0]
        assert error["path"] == str(bad / name)
        assert error["pointer"] == ptr, (name, error)
        assert text in error["message"], (name, error)
    # a failed file's counts still say what it held
    assert by_name["nul_byte.json"]["entities"]["task"]["read"] == 2
    assert by_name["too_deep.json"]["entities"]["task"]["read"] == 2
    assert by_name["duplicate_top_ids.json"]["entities"]["task"]["read"] == 2
    assert not Task.objects.filter(title__in=["Fine", "After", "First seven"]).exists()


def test_depth_limit_is_a_setting(run_import, settings):
    settings.FLOWBASE_JSON_MAX_DEPTH = 200
    ok, _ = run_import(REAL / "bad" / "too_deep.json", project="Deep")
    assert ok
    assert Task.objects.get(workflow__project__name="Deep", external_key="1").legacy["notes"]["x"]


def test_importer_and_model_field_share_one_depth_limit(run_import, tmp_path):
    """The file's whole nesting counts against FLOWBASE_JSON_MAX_DEPTH, so what the importer
    accepts the app reads back as JSON (not as a too-deep text) and can save again."""
    from apps.core.validation import TooDeepJSON, json_max_depth, validate_instance

    def tasks_file(name: str, depth: int) -> Path:
        notes: dict = {}
        for _ in range(depth - 5):  # root, "master", "tasks", the task, "notes": 5 levels
            notes = {"x": notes}
        doc = {"master": {"tasks": [{"id": 1, "title": name, "status": "pending", "notes": notes}]}}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        return path

    limit = json_max_depth()
    ok, _ = run_import(tasks_file("at_limit", limit), project="AtLimit")
    assert ok
    task = Task.objects.get(workflow__project__name="AtLimit", external_key="1")
    assert not isinstance(task.legacy, TooDeepJSON) and task.legacy["notes"]["x"]
    validate_instance(task)
    ok, report = run_import(tasks_file("over_limit", limit + 1), project="OverLimit")
    assert not ok
    [error] = report["files"][0]["errors"]
    assert error["pointer"].startswith("/master/tasks/0/notes/x")
    assert f"nested deeper than {limit} levels (FLOWBASE_JSON_MAX_DEPTH)" in error["message"]


def test_non_ascii_digits_are_not_numbers(run_import, tmp_path):
    """'²'.isdigit() is true but int('²') fails: a superscript priority is a field error with its
    pointer (it was "invalid JSON" for the whole file), a superscript id stays a slug."""
    from apps.filestore.parsing import priority_of, render_own

    assert render_own("²") == "²" and render_own("7") == 7
    assert priority_of("010") == (10, True) and priority_of("9" * 5000) == (None, False)
    doc = {"master": {"tasks": [{"id": 1, "title": "A", "status": "pending", "priority": "²"}]}}
    path = tmp_path / "superscript.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    ok, report = run_import(path, project="Superscript")
    assert not ok
    [error] = report["files"][0]["errors"]
    assert error["pointer"] == "/master/tasks/0/priority"
    assert "unknown priority '²'" in error["message"]


def test_batch_size_must_be_positive(fixtures, tmp_path):
    from django.core.management import CommandError

    for value in ("0", "-1", "x"):
        with pytest.raises(CommandError, match="batch-size"):
            call_command(
                "import_filestore",
                str(fixtures / "legacy_project"),
                "--batch-size",
                value,
                stdout=io.StringIO(),
            )
    assert not Task.objects.exists()


def test_export_format_choice(run_import, tmp_path):
    run_import(REAL / "float_ids.json", project="Shape")
    legacy, _ = export(tmp_path, "Shape", "--format", "legacy")
    assert list(legacy) == ["tasks", "metadata"]
    run_import(REAL / "extra_keys.json", project="Shape")
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="legacy shape holds one tag"):
        export(tmp_path, "Shape", "--format", "legacy")
    one, _ = export(tmp_path, "Shape", "--format", "legacy", "--workflow", "feature-digest")
    assert one["tasks"][0]["title"] == "Digest opt-out"


def test_tasks_made_in_the_admin_export_in_canonical_form(run_import, tmp_path):
    run_import(REAL / "dotted_ids.json", project="Admin")
    workflow = Workflow.objects.get(project__name="Admin")
    parent = Task.objects.get(workflow=workflow, external_key="14")
    top = Task.objects.create(workflow=workflow, external_key="16", title="Made in the admin")
    sub = Task.objects.create(
        workflow=workflow, parent=parent, external_key="14.4", title="Sub", status="review"
    )
    TaskDependency.objects.create(task=sub, depends_on=top)
    TaskDependency.objects.create(task=top, depends_on=parent)
    exported, path = export(tmp_path, "Admin")
    tasks = exported["master"]["tasks"]
    assert tasks[-1] == {
        "id": 16,
        "title": "Made in the admin",
        "description": "",
        "details": "",
        "testStrategy": "",
        "status": "pending",
        "priority": "medium",
        "dependencies": [14],
        "subtasks": [],
    }
    assert tasks[1]["subtasks"][-1]["dependencies"] == ["16"]  # a string: top-level task 16
    assert tasks[1]["subtasks"][-1]["status"] == "review"
    run_import(path, project="Admin copy")
    assert edges("Admin copy") == edges("Admin")


def test_markers_written_before_key_order_was_kept_still_export(run_import, tmp_path):
    run_import(REAL / "dotted_ids.json", project="Old")
    task = Task.objects.get(workflow__project__name="Old", external_key="15")
    task.legacy = {"_filestore": {"absent": ["details", "testStrategy", "subtasks"], "id": "15"}}
    task.save()
    exported, _ = export(tmp_path, "Old")
    assert exported["master"]["tasks"][2] == {
        "id": "15",
        "title": "Audit log",
        "description": "Who called what.",
        "status": "pending",
        "priority": "low",
        "dependencies": ["14.3", 13],
    }


def test_dry_run_predicts_the_sync(run_import, tmp_path):
    path = tmp_path / "tasks.json"
    tasks = [
        {"id": 1, "title": "One", "dependencies": [2]},
        {"id": 2, "title": "Two", "dependencies": []},
        {"id": 3, "title": "Three", "dependencies": [1]},
    ]
    path.write_text(json.dumps({"tasks": tasks}))
    run_import(path, project="Dry sync")
    tasks[0]["dependencies"], tasks[1]["dependencies"] = [], [1]
    tasks.pop()
    path.write_text(json.dumps({"tasks": tasks}))
    for options in ({}, {"prune": True, "apply": True}):
        _, planned = run_import(path, project="Dry sync", dry_run=True, **options)
        _, done = run_import(path, project="Dry sync", **options)
        for entity in ("task", "dependency"):
            keys = ("created", "updated", "unchanged", "deleted", "skipped")
            assert {k: totals(planned, entity)[k] for k in keys} == {
                k: totals(done, entity)[k] for k in keys
            }, (options, entity)
