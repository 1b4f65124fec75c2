"""export_tasks: a project's tasks back to a Task Master tasks.json, in the shape it came from.

What the import kept (Task.legacy["_filestore"], Workflow.legacy) writes every untouched value
back as it was read: id forms, status and priority spellings, nulls and absent fields, key order,
other keys, the dependency list as written (dangling and cycle-closing entries included). A value
changed since (in the admin) is written in Flowbase's canonical form instead. Streamed: one task
at a time goes to the output.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from apps.filestore import jsonio, selectors
from apps.filestore.parsing import (
    DEFAULT_PRIORITY,
    DEFAULT_STATUS,
    DUPLICATE_MARK,
    KNOWN_TASK_FIELDS,
    MARKER,
    PRIORITY_EXPORT,
    STATUS_EXPORT,
    derive_title,
    own_id,
    priority_of,
    render_own,
    status_of,
)
from apps.filestore.planning import reference_for, resolve
from apps.projects.models import Project
from apps.tasks.models import Task

FORMATS = ("auto", "legacy", "tagged")
OMIT = object()
_TEXT_COLUMNS = {"description": 4, "details": 5, "testStrategy": 6}


class ExportError(Exception):
    """The request cannot be written (e.g. several workflows in the one-tag legacy shape)."""


@dataclass
class ExportSummary:
    shape: str
    tags: int = 0
    tasks: int = 0


def write_tasks_json(
    out: TextIO, *, project: Project, workflow: str | None = None, format: str = "auto"
) -> ExportSummary:
    """Write the project's tasks (or one workflow's) as a tasks.json to `out`."""
    if format not in FORMATS:
        raise ExportError(f"unknown format {format!r} (expected one of: {', '.join(FORMATS)})")
    workflows = _task_workflows(project, workflow)
    if workflow is not None and not workflows:
        raise ExportError(f"no workflow {workflow!r} in {project.name!r}")
    shape = format
    if format == "auto":
        legacy_origin = len(workflows) == 1 and workflows[0][1].get("shape") == "legacy"
        shape = "legacy" if legacy_origin else "tagged"
    if shape == "legacy" and len(workflows) != 1:
        raise ExportError(
            f"the legacy shape holds one tag and {project.name!r} has {len(workflows)}: "
            "choose one with --workflow, or --format tagged"
        )
    summary = ExportSummary(shape=shape, tags=len(workflows))
    if shape == "legacy":
        wf, legacy = workflows[0]
        document: Any = _tag_object(wf, legacy, summary)
    else:
        document = {wf.name: _tag_object(wf, legacy, summary) for wf, legacy in workflows}
    jsonio.write(out, document)
    out.write("\n")
    return summary


def tasks_export(*, project: Project, workflow: str | None = None, format: str = "auto") -> Any:
    """The same document as `write_tasks_json`, parsed (non-integers as Decimal)."""
    buffer = io.StringIO()
    write_tasks_json(buffer, project=project, workflow=workflow, format=format)
    return jsonio.loads(buffer.getvalue())


def _task_workflows(project: Project, name: str | None) -> list[tuple[Any, dict]]:
    """(workflow, its legacy) of the workflows that are task lists, in the file's tag order."""
    found = []
    rows = selectors.export_workflows(project=project, workflow=name)
    for wf in rows:
        legacy = jsonio.loads(wf.legacy_text) if wf.legacy_text else {}
        legacy = legacy if isinstance(legacy, dict) else {}
        from_tags = legacy.get("source") == "taskmaster"
        if name is None and not from_tags and not Task.objects.filter(workflow=wf).exists():
            continue  # an n8n workflow or an empty one, not a task list
        found.append((wf, legacy))
    position = {id(wf): legacy.get("position") for wf, legacy in found}
    found.sort(key=lambda pair: _order(position[id(pair[0])]))
    return found


def _order(value) -> tuple:
    return (0, value) if isinstance(value, int) else (1, 0)


def _tag_object(wf, legacy: dict, summary: ExportSummary) -> dict:
    keys = legacy.get("keys") or (["tasks", "metadata"] if "metadata" in legacy else ["tasks"])
    extra = legacy.get("extra") or {}
    tag: dict = {}
    for key in [*keys, *(k for k in ("tasks",) if k not in keys), *extra]:
        if key in tag:
            continue
        if key == "tasks":
            tag["tasks"] = jsonio.Lazy(_render_tasks(wf.pk, summary))
        elif key == "metadata" and "metadata" in legacy:
            tag["metadata"] = legacy["metadata"]
        elif key in extra:
            tag[key] = extra[key]
    return tag


class _Tag:
    """The rows of one workflow, indexed for rendering."""

    def __init__(self, workflow_id: int) -> None:
        self.rows = {row[0]: row for row in selectors.export_tasks_of(workflow_id)}
        self.key = {i: row[2] or f"db-{i}" for i, row in self.rows.items()}
        self.keys = set(self.key.values())
        self.children: dict[int | None, list[tuple]] = {}
        for row in self.rows.values():
            parent = row[1] if row[1] in self.rows else None
            self.children.setdefault(parent, []).append(row)
        self.deps: dict[int, list[int]] = {}
        for task_id, depends_on_id in selectors.export_dependencies_of(workflow_id):
            if depends_on_id in self.rows:  # an edge to another workflow has no file form
                self.deps.setdefault(task_id, []).append(depends_on_id)

    def parent_key(self, row: tuple) -> str | None:
        return self.key[row[1]] if row[1] in self.rows else None


def _render_tasks(workflow_id: int, summary: ExportSummary) -> Iterator[dict]:
    tag = _Tag(workflow_id)
    for task, _ in _ordered(tag, None):
        summary.tasks += 1
        yield task


def _ordered(tag: _Tag, parent_id: int | None) -> list[tuple[dict, tuple]]:
    rendered = [_render(tag, row) for row in tag.children.get(parent_id, ())]
    rendered.sort(key=lambda pair: (_order(pair[1]), pair[2][0]))
    return [(task, row) for task, _, row in rendered]


def _render(tag: _Tag, row: tuple) -> tuple[dict, Any, tuple]:
    """One task as Task Master writes it; returns (task, its position in the file, row)."""
    task_id, _, _, title, description, _, _, status, priority, legacy_text = row
    legacy = jsonio.loads(legacy_text) if legacy_text else {}
    legacy = legacy if isinstance(legacy, dict) else {}
    marker = legacy.pop(MARKER, None)
    has_marker = isinstance(marker, dict)
    marker = marker if has_marker else {}
    parent_key = tag.parent_key(row)
    key = tag.key[task_id]
    children = tag.children.get(task_id, [])

    if "keys" in marker:
        keys = list(marker["keys"])
    else:  # no marker (made in the admin) or one written before key order was kept
        absent = set(marker.get("absent", ()))
        if not has_marker and parent_key is not None:
            absent.add("subtasks")
        keys = [f for f in KNOWN_TASK_FIELDS if f not in absent] + list(legacy)
    present = set(keys)
    nulls = set(marker.get("null", ()))

    def default(field: str, value: Any, empty: Any) -> Any:
        """An untouched absent or null field comes back absent or null."""
        if value == empty and field not in present:
            return OMIT
        if value == empty and field in nulls:
            return None
        return value

    values: dict[str, Any] = {"id": _id_value(marker, key, parent_key)}
    values["title"] = _title_value(marker, title, description, present, nulls)
    for field, column in _TEXT_COLUMNS.items():
        values[field] = default(field, row[column], "")
    raw = marker.get("status")
    if raw is not None and status_of(raw)[0] == status:
        values["status"] = raw
    else:
        spelled = STATUS_EXPORT.get(status, status)
        values["status"] = default("status", spelled, STATUS_EXPORT[DEFAULT_STATUS])
    raw = marker.get("priority")
    if raw is not None and priority_of(raw)[0] == priority:
        values["priority"] = raw
    else:
        spelled = PRIORITY_EXPORT.get(priority, priority)
        values["priority"] = default("priority", spelled, PRIORITY_EXPORT[DEFAULT_PRIORITY])
    values["dependencies"] = _dependencies_value(tag, task_id, parent_key, marker, present, nulls)
    if children:
        values["subtasks"] = [task for task, _ in _ordered(tag, task_id)]
    else:
        values["subtasks"] = default("subtasks", [], [])

    out: dict = {}
    for name in keys:
        if name in values:
            if values[name] is not OMIT:
                out[name] = values[name]
        elif name in legacy:
            out[name] = legacy[name]
    for name in KNOWN_TASK_FIELDS:  # a value set since the import on a field the file lacked
        if name not in out and values[name] is not OMIT:
            out[name] = values[name]
    for name, value in legacy.items():
        out.setdefault(name, value)
    return out, marker.get("pos"), row


def _id_value(marker: dict, key: str, parent_key: str | None) -> Any:
    own = key[len(parent_key) + 1 :] if parent_key and key.startswith(parent_key + ".") else key
    own = own.split(DUPLICATE_MARK, 1)[0]
    if "id" in marker and own_id(marker["id"], parent_key)[0] == own:
        return marker["id"]
    return render_own(own)


def _title_value(marker: dict, title: str, description: str, present: set, nulls: set) -> Any:
    derived = "title" not in present or "title" in nulls or "title" in marker
    if derived and title == derive_title(description):
        if "title" not in present:
            return OMIT
        return None if "title" in nulls else marker.get("title", title)
    return title


def _dependencies_value(
    tag: _Tag, task_id: int, parent_key: str | None, marker: dict, present: set, nulls: set
) -> Any:
    targets = tag.deps.get(task_id, [])
    raw = marker.get("deps")
    if raw is not None:
        skipped = set(marker.get("deps_skipped", ()))
        expected = {
            resolve(dep, parent_key, tag.keys.__contains__)
            for index, dep in enumerate(raw)
            if index not in skipped
        } - {None}
        if expected == {tag.key[t] for t in targets}:
            return raw
    if not targets:
        if "dependencies" not in present:
            return OMIT
        return None if "dependencies" in nulls else []
    return [reference_for(tag.key[t], tag.parent_key(tag.rows[t]), parent_key) for t in targets]
