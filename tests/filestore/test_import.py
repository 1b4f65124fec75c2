"""import_filestore against the database: partial failure, strict, idempotency, interruption, dry run, prune."""

import json
import shutil

import pytest

from apps.blueprints.models import Template
from apps.filestore import sql
from apps.knowledge.models import Article
from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow
from tests.filestore.conftest import totals

pytestmark = pytest.mark.django_db


def snapshot(project_name: str) -> dict:
    """Everything the importer writes for a project, without ids and timestamps."""
    tasks = Task.objects.filter(workflow__project__name=project_name)
    return {
        "workflows": sorted(
            Workflow.objects.filter(project__name=project_name).values_list(
                "name", "description", "node_count"
            )
        ),
        "tasks": sorted(
            (
                t.workflow.name,
                t.external_key,
                t.parent.external_key if t.parent else None,
                t.title,
                t.status,
                t.priority,
                json.dumps(t.legacy, sort_keys=True),
            )
            for t in tasks.select_related("workflow", "parent")
        ),
        "dependencies": sorted(
            TaskDependency.objects.filter(task__in=tasks).values_list(
                "task__workflow__name", "task__external_key", "depends_on__external_key"
            )
        ),
    }


def test_tagged_project_imports_everything(fixtures, run_import):
    ok, report = run_import(fixtures / "tagged_project", project="Acme")
    assert ok, report
    project = Project.objects.get(name="Acme")
    assert project.settings["taskmaster"]["global"]["defaultSubtasks"] == 5
    assert set(project.workflows.values_list("name", flat=True)) == {
        "master",
        "feature-auth",
        "release",
    }
    master = Task.objects.filter(workflow__project=project, workflow__name="master")
    assert master.count() == 7
    t2 = master.get(external_key="2")
    assert (t2.status, t2.priority) == ("in_progress", 5)
    assert master.get(external_key="2.3").parent == t2
    assert set(
        TaskDependency.objects.filter(
            task__external_key="2.3", task__workflow=t2.workflow
        ).values_list("depends_on__external_key", flat=True)
    ) == {"2.2"}  # "1.1" does not exist: a warning, skipped
    assert master.get(external_key="1").legacy["assignedTo"] == "ana"
    assert master.get(external_key="3").description == "Überprüfung der Daten 数据迁移"
    assert Article.objects.filter(project=project).count() == 2
    assert Article.objects.get(project=project, slug="prd").title.startswith("Product requirements")
    assert dict(
        Template.objects.filter(name__in=["deploy", "example_prd"]).values_list("name", "type")
    ) == {
        "deploy": "deployment",  # from the name before the extension
        "example_prd": "documentation",
    }
    assert totals(report, "task")["created"] == 11
    assert totals(report, "dependency")["skipped"] == 1
    workflow = Workflow.objects.get(project=project, name="master")
    assert workflow.description == "Tasks for the master context"


def test_n8n_exports_one_per_file_and_array(fixtures, run_import):
    ok, report = run_import(fixtures / "n8n", project="Automation")
    assert ok, report
    workflows = {w.name: w for w in Workflow.objects.filter(project__name="Automation")}
    assert set(workflows) == {"Nightly build", "Deploy on tag", "Triage issues"}
    nightly = workflows["Nightly build"]
    assert nightly.node_count == 3 and nightly.tags == ["ci", "nightly"]
    assert set(nightly.definition) == {"nodes", "connections"}
    assert nightly.status == "active" and workflows["Triage issues"].status == "draft"


def test_good_files_imported_bad_ones_fail(fixtures, run_import):
    ok, report = run_import(
        fixtures / "legacy_project",
        fixtures / "invalid_json.json",
        fixtures / "unknown_status.json",
        project="Mixed",
    )
    assert not ok  # the command exits non-zero
    status = {f["path"].rsplit("/", 1)[-1]: f["status"] for f in report["files"]}
    assert status["tasks.json"] == "imported"
    assert status["invalid_json.json"] == status["unknown_status.json"] == "failed"
    bad = next(f for f in report["files"] if f["path"].endswith("invalid_json.json"))
    assert bad["errors"][0]["line"] == 4 and bad["errors"][0]["path"].endswith("invalid_json.json")
    # the unknown-status file wrote nothing, not even its valid task
    assert not Task.objects.filter(title="Ok").exists()
    assert Task.objects.filter(workflow__project__name="Mixed").count() == 5


def test_strict_writes_nothing_when_any_file_fails(fixtures, run_import):
    ok, report = run_import(fixtures / "legacy_project", fixtures / "dangling.json", strict=True)
    assert not ok
    dangling = next(f for f in report["files"] if f["path"].endswith("dangling.json"))
    assert dangling["status"] == "failed" and len(dangling["errors"]) == 3
    assert {f["status"] for f in report["files"]} == {"failed", "not_written"}
    assert not Task.objects.exists() and not Project.objects.exists()


def test_strict_passes_clean_files(fixtures, run_import):
    ok, _ = run_import(fixtures / "legacy_project", strict=True)
    assert ok and Task.objects.count() == 5


def test_rerun_reports_unchanged_and_edit_updates(fixtures, run_import, tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(fixtures / "tagged_project", project)
    run_import(project, project="Idem")
    before = snapshot("Idem")
    ok, second = run_import(project, project="Idem")
    assert ok
    assert snapshot("Idem") == before
    for entity, counts in second["totals"].items():
        assert counts["created"] == counts["updated"] == counts["deleted"] == 0, entity
    assert totals(second, "task")["unchanged"] == 11
    assert {f["status"] for f in second["files"]} == {"unchanged"}

    tasks_file = project / ".taskmaster/tasks/tasks.json"
    data = json.loads(tasks_file.read_text())
    data["master"]["tasks"][0]["title"] = "Set up the repository (edited)"
    data["master"]["tasks"].pop()  # task 4 leaves the file: kept without --prune
    tasks_file.write_text(json.dumps(data))
    ok, third = run_import(project, project="Idem")
    assert ok
    assert totals(third, "task")["updated"] == 1 and totals(third, "task")["unchanged"] == 9
    assert Task.objects.filter(workflow__project__name="Idem", external_key="4").exists()

    ok, planned = run_import(project, project="Idem", prune=True)  # no --apply: a dry run
    assert ok and totals(planned, "task")["deleted"] == 1
    assert Task.objects.filter(workflow__project__name="Idem", external_key="4").exists()

    ok, pruned = run_import(project, project="Idem", prune=True, apply=True)
    assert ok
    assert totals(pruned, "task")["deleted"] == 1
    assert totals(pruned, "dependency")["deleted"] == 1  # 4 → 3 went with task 4
    assert not Task.objects.filter(workflow__name="master", external_key="4").exists()


def test_dry_run_writes_nothing_and_plans(fixtures, run_import):
    ok, report = run_import(fixtures / "tagged_project", project="Dry", dry_run=True)
    assert ok
    assert not Project.objects.exists() and not Task.objects.exists()
    assert not Article.objects.exists() and not Template.objects.exists()
    assert {f["status"] for f in report["files"]} == {"planned"}
    assert totals(report, "task")["created"] == 11
    run_import(fixtures / "tagged_project", project="Dry")
    ok, again = run_import(fixtures / "tagged_project", project="Dry", dry_run=True)
    assert totals(again, "task") == {**totals(report, "task"), "created": 0, "unchanged": 11}
    assert totals(again, "dependency")["unchanged"] == 9


def test_interrupted_import_then_rerun_equals_clean_run(fixtures, run_import, monkeypatch):
    clean_source = fixtures / "tagged_project"
    run_import(clean_source, project="Clean", batch_size=2)
    expected = snapshot("Clean")
    expected["workflows"] = [w for w in expected["workflows"]]

    real = sql.upsert_tasks_batch
    calls = {"n": 0}

    def crash_after_three_batches(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt("operator pressed Ctrl-C")
        return real(*args, **kwargs)

    monkeypatch.setattr(sql, "upsert_tasks_batch", crash_after_three_batches)
    with pytest.raises(KeyboardInterrupt):
        run_import(clean_source, project="Interrupted", batch_size=2)
    assert calls["n"] == 4
    assert not Task.objects.filter(workflow__project__name="Interrupted").exists()
    monkeypatch.setattr(sql, "upsert_tasks_batch", real)
    ok, _ = run_import(clean_source, project="Interrupted", batch_size=2)
    assert ok
    assert snapshot("Interrupted") == expected


def test_missing_path_fails(run_import, tmp_path):
    ok, report = run_import(tmp_path / "nope")
    assert not ok and report["files"][0]["errors"][0]["message"] == "no such file or directory"


def test_reimport_replaces_the_dependencies_of_the_files_tasks(run_import, tmp_path):
    """Re-import is a sync: an edge reversed in the file does not meet its old self (which made
    a valid edge look like a cycle before); a cycle inside the file is still refused."""
    path = tmp_path / "tasks.json"

    def write(deps_of_1, deps_of_2):
        tasks = [
            {"id": 1, "title": "One", "dependencies": deps_of_1},
            {"id": 2, "title": "Two", "dependencies": deps_of_2},
        ]
        path.write_text(json.dumps({"master": {"tasks": tasks}}))

    def edges():
        return sorted(TaskDependency.objects.values_list("task__title", "depends_on__title"))

    write([2], [])
    assert run_import(path, project="Cyc")[0]
    write([], [1])  # reversed, without --prune
    ok, report = run_import(path, project="Cyc")
    assert ok and report["files"][0]["warnings"] == []
    assert edges() == [("Two", "One")]
    assert (totals(report, "dependency")["created"], totals(report, "dependency")["deleted"]) == (
        1,
        1,
    )
    write([2], [1])  # a cycle in the file itself: the edge closing it is kept as data only
    ok, report = run_import(path, project="Cyc")
    assert ok
    [warning] = report["files"][0]["warnings"]
    assert warning["pointer"] == "/master/tasks/1/dependencies/0"
    assert warning["message"].startswith("dependency cycle: 2 → 1 → 2")
    assert edges() == [("One", "Two")]
