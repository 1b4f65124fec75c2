"""Property: any Task Master document with the quirks of real files (foreign statuses, id forms,
duplicated subtask ids, untitled and nested subtasks, every dependency form, extra keys, odd key
order) imports, re-imports without touching a row, exports as it came in, and a second
generation has the same edges by file ids."""

import io
import itertools
import json

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.filestore.test_real_shapes import edges, stamps

pytestmark = pytest.mark.django_db

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
WORDS = st.text(alphabet="abcdefghij -", min_size=1, max_size=10).filter(lambda s: s.strip())
SLUG = st.text(alphabet="abcdefgh-_", min_size=1, max_size=8)
STATUSES = ["pending", "in-progress", "done", "review", "deferred", "cancelled", "blocked"]
STATUS_QUIRKS = ["completed", "todo", "deprecated", "In Progress", "in_progress", "DONE"]
PRIORITIES = ["high", "medium", "low", "critical", "urgent", "High", 0, 7, 10]
EXTRA_KEYS = ["complexity", "updatedAt", "parentId", "superseded_by", "labels", "meta", "effort"]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SLUG, inner, max_size=3),
    max_leaves=6,
)
counter = itertools.count()


def optional(draw, key: str, value, record: dict) -> None:
    """The field as a value, null, or absent (what real files do)."""
    choice = draw(st.sampled_from(["value", "value", "null", "absent"]))
    if choice == "value":
        record[key] = value
    elif choice == "null":
        record[key] = None


@st.composite
def task_record(draw, own, parent, siblings, top_keys, depth) -> dict:
    record: dict = {"id": own}
    description = draw(WORDS)
    title_form = draw(st.sampled_from(["title", "title", "title", "absent", "null", "empty"]))
    if title_form == "title":
        record["title"] = draw(WORDS)
    elif title_form == "null":
        record["title"] = None
    elif title_form == "empty":
        record["title"] = ""
    if title_form != "title" or draw(st.booleans()):
        record["description"] = description
    else:
        optional(draw, "description", draw(TEXT), record)
    optional(draw, "details", draw(TEXT), record)
    optional(draw, "testStrategy", draw(TEXT), record)
    optional(draw, "status", draw(st.sampled_from(STATUSES + STATUS_QUIRKS)), record)
    optional(draw, "priority", draw(st.sampled_from(PRIORITIES)), record)

    refs: list = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["top", "top-string", "dotted", "sibling", "dangling", "self"]))
        if kind in ("top", "top-string") and top_keys:
            key = draw(st.sampled_from(top_keys))
            refs.append(int(key) if kind == "top" and key.isdigit() and parent is None else key)
        elif kind == "dotted" and siblings and parent is not None:
            refs.append(f"{parent}.{draw(st.sampled_from(siblings))}")
        elif kind == "sibling" and siblings and parent is not None:
            sib = draw(st.sampled_from(siblings))
            refs.append(int(sib) if sib.isdigit() else sib)
        elif kind == "dangling":
            refs.append(draw(st.sampled_from([999, "nope", "77.7"])))
        elif kind == "self":
            refs.append(own)
    if refs and draw(st.booleans()):
        refs.append(refs[0])  # repeated
    optional(draw, "dependencies", refs, record)

    if depth < 2 and draw(st.integers(0, 3)) == 0:
        record["subtasks"] = draw(
            subtasks(str(own) if parent is None else f"{parent}.{own}", top_keys, depth + 1)
        )
    elif parent is None:
        optional(draw, "subtasks", [], record)
    for key in draw(st.lists(st.sampled_from(EXTRA_KEYS), max_size=3, unique=True)):
        record[key] = draw(JSON_VALUES)
    keys = draw(st.permutations(list(record)))
    return {k: record[k] for k in keys}


@st.composite
def subtasks(draw, parent: str, top_keys, depth) -> list:
    n = draw(st.integers(0, 4))
    owns: list[str] = []
    forms: list = []
    for i in range(1, n + 1):
        form = draw(st.sampled_from(["int", "int", "dotted", "slug", "repeat", "float"]))
        if form == "repeat" and owns:
            own = owns[0]
            forms.append(int(own) if own.isdigit() else own)
        elif form == "slug":
            own = draw(SLUG.filter(lambda s: s not in owns))
            forms.append(own)
        elif form == "dotted":
            own = str(i)
            forms.append(f"{parent}.{i}")
        elif form == "float" and parent.isdigit():
            own = str(i)
            forms.append(float(f"{parent}.{i}"))
        else:
            own = str(i)
            forms.append(i)
        if own not in owns:
            owns.append(own)
    return [draw(task_record(form, parent, owns, top_keys, depth)) for form in forms]


@st.composite
def tag_body(draw) -> dict:
    n = draw(st.integers(1, 5))
    keys: list[str] = []
    for i in range(1, n + 1):
        key = draw(st.sampled_from([str(i), str(i), f"t-{i}"]))
        keys.append(key)
    tasks = []
    for key in keys:
        own = draw(st.sampled_from([int(key), key])) if key.isdigit() else key
        tasks.append(draw(task_record(own, None, [], keys, 0)))
    body: dict = {"tasks": tasks}
    if draw(st.booleans()):
        body["metadata"] = {"created": "2025-01-01T00:00:00.000Z", "description": draw(TEXT)}
    return body


@st.composite
def documents(draw) -> dict:
    if draw(st.booleans()):
        body = draw(tag_body())
        if draw(st.booleans()):
            body = {"$schema": "https://example.invalid/tasks.json", "meta": {"v": 1}, **body}
        return body
    names = draw(
        st.lists(
            st.sampled_from(["master", "feature-x", "spike", "v2"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    return {name: draw(tag_body()) for name in names}


def _export(tmp_path, project: str) -> tuple[dict, str]:
    out = tmp_path / f"{project}.json"
    call_command("export_tasks", project=project, output=str(out), stdout=io.StringIO())
    return json.loads(out.read_text(encoding="utf-8")), str(out)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents())
def test_round_trip_laws_hold_for_generated_documents(document, run_import, tmp_path):
    n = next(counter)
    source = tmp_path / f"tasks-{n}.json"
    source.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    original = json.loads(source.read_text(encoding="utf-8"))
    first, second = f"Gen{n}", f"Gen{n} copy"

    ok, report = run_import(source, project=first)
    assert ok, report["files"][0]["errors"][:3]
    before = stamps(first)
    ok, again = run_import(source, project=first)
    assert ok and {f["status"] for f in again["files"]} == {"unchanged"}
    assert stamps(first) == before

    exported, path = _export(tmp_path, first)
    assert exported == original
    ok, _ = run_import(path, project=second)
    assert ok
    assert _export(tmp_path, second)[0] == exported
    assert edges(second) == edges(first)
