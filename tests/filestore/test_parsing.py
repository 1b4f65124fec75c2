"""Validation and planning: pure Python, no database."""

import json

from apps.filestore.parsing import parse_file
from apps.filestore.planning import cycle_closing_edges, plan_tag
from apps.filestore.problems import pointer


def problems_by_pointer(parsed):
    return {p.pointer: p for p in parsed.problems.items}


def test_pointer_escapes_rfc6901():
    assert pointer("a/b", "m~n", 3) == "/a~1b/m~0n/3"


def test_invalid_json_reports_path_line_and_column(fixtures):
    path = fixtures / "invalid_json.json"
    parsed = parse_file(path)
    [error] = parsed.problems.errors
    assert error.path == str(path)
    assert (error.line, error.column) == (4, 35)  # where "status" starts after the missing comma
    assert "invalid JSON" in error.message
    assert not parsed.ok


def test_wrong_top_level_type(fixtures):
    parsed = parse_file(fixtures / "wrong_type.json")
    [error] = parsed.problems.errors
    assert error.pointer == ""
    assert "wrong top-level type" in error.message and "array" in error.message


def test_tasks_file_that_is_an_array_is_refused(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text("[]")
    parsed = parse_file(path, "tasks")
    assert [e.message for e in parsed.problems.errors] == [
        "wrong top-level type: expected an object of tasks, got array"
    ]


def test_unknown_status_names_the_value(fixtures):
    parsed = parse_file(fixtures / "unknown_status.json")
    [error] = parsed.problems.errors
    assert error.pointer == "/master/tasks/1/status"
    assert "'wontfix'" in error.message


def test_every_problem_has_path_and_pointer(fixtures):
    path = fixtures / "invalid_tasks.json"
    parsed = parse_file(path)
    found = problems_by_pointer(parsed)
    assert set(found) == {
        "/master/tasks/1/id",  # duplicate id
        "/master/tasks/2/title",  # empty title
        "/master/tasks/3/subtasks/1/dependencies/1",  # an object as a dependency
        "/master/tasks/4",  # not an object
    }
    assert "duplicate task id '1'" in found["/master/tasks/1/id"].message
    assert all(p.path == str(path) and p.severity == "error" for p in parsed.problems.items)


def test_status_priority_and_ids_are_mapped(fixtures):
    parsed = parse_file(fixtures / "tagged_project/.taskmaster/tasks/tasks.json", "tasks")
    assert parsed.ok, parsed.problems.items
    master = {t.key: t for t in parsed.tasks.tags[0].tasks}
    assert [tag.name for tag in parsed.tasks.tags] == ["master", "feature-auth", "release"]
    assert master["2"].status == "in_progress"
    assert (master["1"].priority, master["2"].priority, master["3"].priority) == (8, 5, 2)
    assert master["3"].key == "3" and master["3"].legacy["_filestore"]["id"] == "3"
    assert master["2.3"].parent_key == "2"
    # ints inside subtasks are siblings; "1.1" is a full reference
    assert [d for d, _ in master["2.3"].dependencies] == ["2.2", "1.1"]
    assert [d for d, _ in master["3"].dependencies] == ["2", "2.3"]
    # unknown fields are kept; nulls are normal
    assert master["1"].legacy["complexity"] == 3
    assert master["2.3"].legacy["estimate"] == {"hours": 4}
    assert master["2"].details == "" and master["2"].legacy["_filestore"]["null"] == [
        "details",
        "testStrategy",
    ]
    auth = {t.key: t for t in parsed.tasks.tags[1].tasks}
    assert (auth["2"].status, auth["2"].priority) == ("pending", 5)


def test_dangling_dependencies_are_warnings_with_pointers(fixtures):
    parsed = parse_file(fixtures / "dangling.json")
    plan = plan_tag(parsed.tasks.tags[0], parsed.problems)
    warnings = {w.pointer: w.message for w in parsed.problems.warnings}
    assert set(warnings) == {
        "/master/tasks/0/dependencies/0",
        "/master/tasks/1/subtasks/0/dependencies/0",
        "/master/tasks/1/subtasks/0/dependencies/1",
    }
    assert "'99'" in warnings["/master/tasks/0/dependencies/0"]
    assert plan.edges == [("2", "1")]


def test_cycle_edge_is_reported_and_skipped(fixtures):
    parsed = parse_file(fixtures / "cycle.json")
    plan = plan_tag(parsed.tasks.tags[0], parsed.problems)
    [warning] = parsed.problems.warnings
    assert warning.pointer == "/master/tasks/2/dependencies/0"
    assert warning.message.startswith("dependency cycle: 3 → 2 → 1 → 3")
    assert ("3", "2") in plan.skipped_edges
    assert plan.edges == [("1", "3"), ("2", "1"), ("4", "3"), ("4", "1")]


def test_cycle_through_existing_database_edges():
    # the database already holds b → a; the file adds a → b
    assert cycle_closing_edges([("a", "b")], {("b", "a")}) == {("a", "b"): ["a", "b", "a"]}
    assert cycle_closing_edges([("a", "b"), ("c", "b")], set()) == {}


def test_large_acyclic_graph_plans_in_linear_time(tmp_path):
    n = 50_000
    data = {
        "tasks": [
            {"id": i, "title": f"t{i}", "dependencies": [i - 1] if i > 1 else []}
            for i in range(1, n + 1)
        ]
    }
    data["tasks"][0]["dependencies"] = [n]  # closes one cycle through every task
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(data))
    parsed = parse_file(path)
    plan = plan_tag(parsed.tasks.tags[0], parsed.problems)
    assert len(plan.edges) == n - 1
    assert plan.skipped_edges == [("2", "1")]
