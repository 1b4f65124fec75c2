"""Reading and validating legacy file-store files. Pure Python: no database access.

Every problem carries the file path and a JSON pointer (line/column for invalid JSON); a file with
errors is not written at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.filestore.problems import Problems, child, pointer

# Task Master status → Flowbase TaskStatus (apps/tasks/models.py).
STATUS_MAP = {
    "pending": "pending",
    "in-progress": "in_progress",
    "in_progress": "in_progress",
    "review": "review",
    "done": "done",
    "deferred": "deferred",
    "cancelled": "cancelled",
    "blocked": "blocked",
}
# Flowbase status → the spelling written back by export_tasks.
STATUS_EXPORT = {
    "pending": "pending",
    "in_progress": "in-progress",
    "review": "review",
    "done": "done",
    "deferred": "deferred",
    "cancelled": "cancelled",
    "blocked": "blocked",
}
# Task Master priority → Flowbase priority (0-10, higher is more urgent).
PRIORITY_MAP = {"high": 8, "medium": 5, "low": 2}
PRIORITY_EXPORT = {8: "high", 5: "medium", 2: "low"}
DEFAULT_PRIORITY = 5
DEFAULT_STATUS = "pending"

KNOWN_TASK_FIELDS = (
    "id",
    "title",
    "description",
    "details",
    "testStrategy",
    "status",
    "priority",
    "dependencies",
    "subtasks",
)
TEXT_FIELDS = {"description": "description", "details": "details", "testStrategy": "test_strategy"}
# Key inside Task.legacy holding what the export needs to write the record back as it was read.
MARKER = "_filestore"
TITLE_MAX = 500
KEY_MAX = 64
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
SUBTASK_REF = re.compile(r"^([A-Za-z0-9_-]{1,30})\.([A-Za-z0-9_-]{1,30})$")

DOC_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".rst": "text"}


# --- records ------------------------------------------------------------------------------------
@dataclass
class TaskRecord:
    key: str  # external_key: "5", or "5.2" for subtask 2 of task 5
    parent_key: str | None
    title: str
    description: str
    details: str
    test_strategy: str
    status: str
    priority: int
    legacy: dict
    pointer: str
    # (target external_key, pointer of the dependency entry)
    dependencies: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class TagRecord:
    name: str
    pointer: str
    tasks: list[TaskRecord]
    metadata: dict | None
    read: int = 0  # task and subtask objects in the file, valid or not


@dataclass
class TasksDocument:
    shape: str  # "legacy" | "tagged"
    tags: list[TagRecord]


@dataclass
class N8nWorkflow:
    name: str
    pointer: str
    definition: dict
    node_count: int
    tags: list[str]
    active: bool
    extra: dict


@dataclass
class Document:
    slug: str
    title: str
    content: str
    content_type: str
    tags: list[str]


@dataclass
class TemplateFile:
    name: str
    type: str
    content: dict
    tags: list[str]


@dataclass
class ParsedFile:
    """One input file after reading: its kind, its payload (when valid) and its problems."""

    path: Path
    kind: str  # tasks | config | document | template | n8n | unknown
    problems: Problems
    tasks: TasksDocument | None = None
    config: dict | None = None
    document: Document | None = None
    template: TemplateFile | None = None
    workflows: list[N8nWorkflow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems.errors


# --- JSON ---------------------------------------------------------------------------------------
def load_json(path: Path, problems: Problems) -> tuple[bool, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.error("", f"not UTF-8 text (byte {exc.start}): {exc.reason}")
        return False, None
    except OSError as exc:
        problems.error("", f"cannot read: {exc.strerror or exc}")
        return False, None
    try:
        return True, json.loads(text)
    except json.JSONDecodeError as exc:
        problems.error("", f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno)
        return False, None


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def looks_like_n8n(data: Any) -> bool:
    return isinstance(data, dict) and "nodes" in data and "connections" in data


def looks_like_tasks(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    if "tasks" in data:
        return True
    return bool(data) and all(isinstance(v, dict) and "tasks" in v for v in data.values())


# --- Task Master tasks files ---------------------------------------------------------------------
def parse_tasks(data: Any, problems: Problems) -> TasksDocument | None:
    if not isinstance(data, dict):
        problems.error(
            "", f"wrong top-level type: expected an object of tasks, got {type_name(data)}"
        )
        return None
    if "tasks" in data:
        extra = sorted(set(data) - {"tasks", "metadata"})
        for key in extra:
            problems.warning(pointer(key), f"unknown top-level key {key!r} ignored")
        tag = _parse_tag("master", data, "", problems)
        return TasksDocument("legacy", [tag] if tag else [])
    if not data:
        problems.error("", "no tags: expected {'tasks': [...]} or {'<tag>': {'tasks': [...]}}")
        return None
    tags = []
    for name, body in data.items():
        ptr = pointer(name)
        if not isinstance(body, dict):
            problems.error(ptr, f"tag {name!r} must be an object, got {type_name(body)}")
            continue
        if not name.strip() or len(name) > 255:
            problems.error(ptr, "tag name must be 1-255 characters")
            continue
        tag = _parse_tag(name, body, ptr, problems)
        if tag:
            tags.append(tag)
    return TasksDocument("tagged", tags)


def _parse_tag(name: str, body: dict, ptr: str, problems: Problems) -> TagRecord | None:
    tasks_ptr = child(ptr, "tasks")
    raw_tasks = body.get("tasks")
    if not isinstance(raw_tasks, list):
        problems.error(tasks_ptr, f"'tasks' must be an array, got {type_name(raw_tasks)}")
        return None
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        problems.error(child(ptr, "metadata"), "'metadata' must be an object")
        metadata = None
    for key in sorted(set(body) - {"tasks", "metadata"}):
        problems.warning(child(ptr, key), f"unknown key {key!r} in tag {name!r} ignored")

    records: list[TaskRecord] = []
    seen: dict[str, str] = {}
    read = 0
    for index, raw in enumerate(raw_tasks):
        task_ptr = child(tasks_ptr, index)
        read += 1 + (
            len(raw["subtasks"])
            if isinstance(raw, dict) and isinstance(raw.get("subtasks"), list)
            else 0
        )
        record = _parse_task(raw, task_ptr, None, problems)
        if record is None:
            continue
        if record.key in seen:
            problems.error(
                child(task_ptr, "id"),
                f"duplicate task id {record.key!r} in tag {name!r} (first at {seen[record.key]})",
                entity="task",
            )
            continue
        seen[record.key] = task_ptr
        records.append(record)
        raw_subtasks = raw.get("subtasks")
        if raw_subtasks is None:
            continue
        if not isinstance(raw_subtasks, list):
            problems.error(
                child(task_ptr, "subtasks"),
                f"'subtasks' must be an array, got {type_name(raw_subtasks)}",
                entity="task",
            )
            continue
        for sub_index, raw_sub in enumerate(raw_subtasks):
            sub_ptr = child(task_ptr, "subtasks", sub_index)
            sub = _parse_task(raw_sub, sub_ptr, record.key, problems)
            if sub is None:
                continue
            if sub.key in seen:
                problems.error(
                    child(sub_ptr, "id"),
                    f"duplicate subtask id {sub.key!r} (first at {seen[sub.key]})",
                    entity="task",
                )
                continue
            seen[sub.key] = sub_ptr
            records.append(sub)
    return TagRecord(name=name, pointer=ptr, tasks=records, metadata=metadata, read=read)


def _parse_id(raw: Any, ptr: str, parent_key: str | None, problems: Problems) -> str | None:
    id_ptr = child(ptr, "id")
    if isinstance(raw, bool) or raw is None:
        problems.error(id_ptr, f"'id' must be an integer or a string, got {type_name(raw)}")
        return None
    if isinstance(raw, int):
        if raw < 0:
            problems.error(id_ptr, f"'id' must not be negative, got {raw}")
            return None
        part = str(raw)
    elif isinstance(raw, str):
        part = raw.strip()
        if parent_key is not None and part.startswith(parent_key + "."):
            part = part[len(parent_key) + 1 :]
        if not ID_PATTERN.match(part):
            problems.error(id_ptr, f"'id' {raw!r} is not a valid id (letters, digits, _ and -)")
            return None
    else:
        problems.error(id_ptr, f"'id' must be an integer or a string, got {type_name(raw)}")
        return None
    return part if parent_key is None else f"{parent_key}.{part}"


def _parse_task(
    raw: Any, ptr: str, parent_key: str | None, problems: Problems
) -> TaskRecord | None:
    what = "subtask" if parent_key else "task"
    if not isinstance(raw, dict):
        problems.error(ptr, f"a {what} must be an object, got {type_name(raw)}", entity="task")
        return None
    ok = True
    key = _parse_id(raw.get("id"), ptr, parent_key, problems)
    ok &= key is not None
    marker: dict[str, Any] = {}
    absent = [f for f in KNOWN_TASK_FIELDS if f not in raw and f != "id"]
    if parent_key is not None:
        absent = [f for f in absent if f != "subtasks"]
    nulls = [f for f in KNOWN_TASK_FIELDS if f in raw and raw[f] is None and f != "id"]
    if absent:
        marker["absent"] = absent
    if nulls:
        marker["null"] = nulls
    if not isinstance(raw.get("id"), int) and key is not None:
        marker["id"] = raw.get("id")

    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.error(
            child(ptr, "title"),
            f"'title' is required (a non-empty string), got {type_name(title)}",
            entity="task",
        )
        ok = False
    elif len(title) > TITLE_MAX:
        problems.error(
            child(ptr, "title"), f"'title' is longer than {TITLE_MAX} characters", entity="task"
        )
        ok = False

    texts = {}
    for source, column in TEXT_FIELDS.items():
        value = raw.get(source)
        if value is None:
            texts[column] = ""
        elif isinstance(value, str):
            texts[column] = value
        else:
            problems.error(
                child(ptr, source),
                f"'{source}' must be a string, got {type_name(value)}",
                entity="task",
            )
            ok = False

    status = DEFAULT_STATUS
    raw_status = raw.get("status")
    if raw_status is not None:
        if isinstance(raw_status, str) and raw_status.strip().lower() in STATUS_MAP:
            status = STATUS_MAP[raw_status.strip().lower()]
            if raw_status != STATUS_EXPORT[status]:
                marker["status"] = raw_status
        else:
            allowed = ", ".join(sorted(STATUS_MAP))
            problems.error(
                child(ptr, "status"),
                f"unknown status {raw_status!r} (expected one of: {allowed})",
                entity="task",
            )
            ok = False

    priority = DEFAULT_PRIORITY
    raw_priority = raw.get("priority")
    if raw_priority is not None:
        if isinstance(raw_priority, str) and raw_priority.strip().lower() in PRIORITY_MAP:
            priority = PRIORITY_MAP[raw_priority.strip().lower()]
            if raw_priority != PRIORITY_EXPORT[priority]:
                marker["priority"] = raw_priority
        elif isinstance(raw_priority, int) and not isinstance(raw_priority, bool):
            if 0 <= raw_priority <= 10:
                priority = raw_priority
                marker["priority"] = raw_priority
            else:
                problems.error(
                    child(ptr, "priority"),
                    f"priority {raw_priority} is outside 0-10",
                    entity="task",
                )
                ok = False
        else:
            problems.error(
                child(ptr, "priority"),
                f"unknown priority {raw_priority!r} (expected high, medium, low or 0-10)",
                entity="task",
            )
            ok = False

    dependencies: list[tuple[str, str]] = []
    raw_deps = raw.get("dependencies")
    if raw_deps is not None and not isinstance(raw_deps, list):
        problems.error(
            child(ptr, "dependencies"),
            f"'dependencies' must be an array, got {type_name(raw_deps)}",
            entity="dependency",
        )
        ok = False
    elif raw_deps:
        for index, dep in enumerate(raw_deps):
            dep_ptr = child(ptr, "dependencies", index)
            target = _dependency_target(dep, parent_key)
            if target is None:
                problems.error(
                    dep_ptr,
                    f"dependency {dep!r} is neither a task id nor a 'task.subtask' reference",
                    entity="dependency",
                )
                ok = False
            else:
                dependencies.append((target, dep_ptr))

    legacy = {k: v for k, v in raw.items() if k not in KNOWN_TASK_FIELDS}
    if parent_key is not None and "subtasks" in raw:
        # Subtasks are nested once; deeper levels are kept verbatim.
        legacy["subtasks"] = raw["subtasks"]
    if MARKER in legacy:
        problems.error(child(ptr, MARKER), f"field name {MARKER!r} is reserved", entity="task")
        ok = False
    if marker:
        legacy[MARKER] = marker
    if len(key or "") > KEY_MAX:
        problems.error(child(ptr, "id"), "id is too long", entity="task")
        ok = False
    if not ok:
        return None
    return TaskRecord(
        key=key,
        parent_key=parent_key,
        title=title,
        status=status,
        priority=priority,
        legacy=legacy,
        pointer=ptr,
        dependencies=dependencies,
        **texts,
    )


def _dependency_target(dep: Any, parent_key: str | None) -> str | None:
    """ints: top-level task ids (a sibling subtask inside `subtasks`); "5.2": subtask 2 of task 5."""
    if isinstance(dep, bool):
        return None
    if isinstance(dep, int):
        return str(dep) if parent_key is None else f"{parent_key}.{dep}"
    if isinstance(dep, str):
        dep = dep.strip()
        if SUBTASK_REF.match(dep) or ID_PATTERN.match(dep):
            return dep
    return None


# --- n8n workflow exports ------------------------------------------------------------------------
N8N_DEFINITION_KEYS = ("nodes", "connections")
N8N_COLUMN_KEYS = ("name", "nodes", "connections", "tags", "active")


def parse_n8n(data: Any, problems: Problems) -> list[N8nWorkflow]:
    items = (
        [(data, "")] if isinstance(data, dict) else [(d, pointer(i)) for i, d in enumerate(data)]
    )
    workflows: list[N8nWorkflow] = []
    names: dict[str, str] = {}
    for item, ptr in items:
        wf = _parse_n8n_one(item, ptr, problems)
        if wf is None:
            continue
        if wf.name in names:
            problems.error(
                child(ptr, "name"),
                f"duplicate workflow name {wf.name!r} (first at {names[wf.name] or '/'})",
                entity="workflow",
            )
            continue
        names[wf.name] = ptr
        workflows.append(wf)
    return workflows


def _parse_n8n_one(item: Any, ptr: str, problems: Problems) -> N8nWorkflow | None:
    if not isinstance(item, dict):
        problems.error(
            ptr, f"an n8n workflow must be an object, got {type_name(item)}", entity="workflow"
        )
        return None
    ok = True
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        problems.error(
            child(ptr, "name"), "'name' is required (1-255 characters)", entity="workflow"
        )
        ok = False
    nodes = item.get("nodes")
    if not isinstance(nodes, list):
        problems.error(
            child(ptr, "nodes"),
            f"'nodes' must be an array, got {type_name(nodes)}",
            entity="workflow",
        )
        return None
    node_names = set()
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            problems.error(
                child(ptr, "nodes", index),
                "a node must be an object with a string 'name'",
                entity="workflow",
            )
            ok = False
            continue
        if node["name"] in node_names:
            problems.error(
                child(ptr, "nodes", index, "name"),
                f"duplicate node name {node['name']!r}",
                entity="workflow",
            )
            ok = False
        node_names.add(node["name"])
    connections = item.get("connections")
    if not isinstance(connections, dict):
        problems.error(
            child(ptr, "connections"),
            f"'connections' must be an object, got {type_name(connections)}",
            entity="workflow",
        )
        return None
    for source in connections:
        if source not in node_names:
            problems.warning(
                child(ptr, "connections", source),
                f"connection from unknown node {source!r}",
                entity="workflow",
            )
    tags: list[str] = []
    raw_tags = item.get("tags") or []
    if not isinstance(raw_tags, list):
        problems.error(child(ptr, "tags"), "'tags' must be an array", entity="workflow")
        ok = False
        raw_tags = []
    for index, tag in enumerate(raw_tags):
        if isinstance(tag, str):
            tags.append(tag)
        elif isinstance(tag, dict) and isinstance(tag.get("name"), str):
            tags.append(tag["name"])
        else:
            problems.error(
                child(ptr, "tags", index),
                "a tag must be a string or an object with a 'name'",
                entity="workflow",
            )
            ok = False
    if not ok:
        return None
    return N8nWorkflow(
        name=name.strip(),
        pointer=ptr,
        definition={"nodes": nodes, "connections": connections},
        node_count=len(nodes),
        tags=tags,
        active=bool(item.get("active")),
        extra={k: v for k, v in item.items() if k not in N8N_COLUMN_KEYS},
    )


# --- documents, templates, config ----------------------------------------------------------------
def slug_for(path: Path) -> str:
    from django.utils.text import slugify

    return (slugify(path.stem) or "document")[:255]


def parse_document(path: Path, problems: Problems) -> Document | None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        problems.error("", f"cannot read as UTF-8 text: {exc}", entity="article")
        return None
    title = path.stem.replace("-", " ").replace("_", " ").strip() or path.name
    for line in text.splitlines():
        if line.startswith("# "):
            title = line[2:].strip()
            break
    return Document(
        slug=slug_for(path),
        title=title[:TITLE_MAX],
        content=text,
        content_type=DOC_SUFFIXES.get(path.suffix.lower(), "text"),
        tags=["imported"],
    )


TEMPLATE_NAME_TYPES = (
    ("prompt", "prompt"),
    ("test", "test"),
    ("deploy", "deployment"),
    ("workflow", "workflow"),
    ("prd", "documentation"),
)
TEMPLATE_SUFFIX_TYPES = {
    ".md": "documentation",
    ".markdown": "documentation",
    ".txt": "documentation",
    ".rst": "documentation",
    ".json": "configuration",
    ".yaml": "configuration",
    ".yml": "configuration",
    ".toml": "configuration",
    ".ini": "configuration",
    ".env": "configuration",
}


def template_type(path: Path) -> str:
    lowered = path.name.lower()
    for needle, kind in TEMPLATE_NAME_TYPES:
        if needle in lowered:
            return kind
    return TEMPLATE_SUFFIX_TYPES.get(path.suffix.lower(), "code_pattern")


def parse_template(path: Path, problems: Problems) -> TemplateFile | None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        problems.error("", f"cannot read as UTF-8 text: {exc}", entity="template")
        return None
    return TemplateFile(
        name=path.stem[:255] or path.name,
        type=template_type(path),
        content={"filename": path.name, "format": path.suffix.lstrip(".").lower(), "text": text},
        tags=["imported"],
    )


def parse_config(data: Any, problems: Problems) -> dict | None:
    if not isinstance(data, dict):
        problems.error(
            "", f"wrong top-level type: a config must be an object, got {type_name(data)}"
        )
        return None
    return data


# --- one file ------------------------------------------------------------------------------------
def parse_file(path: Path, role: str | None = None) -> ParsedFile:
    """Read one file. `role` is what discovery decided from its location; None means sniff JSON."""
    problems = Problems(str(path))
    if role == "document":
        return ParsedFile(path, "document", problems, document=parse_document(path, problems))
    if role == "template":
        return ParsedFile(path, "template", problems, template=parse_template(path, problems))
    ok, data = load_json(path, problems)
    kind = role or "unknown"
    if not ok:
        return ParsedFile(path, kind, problems)
    if role == "config":
        return ParsedFile(path, "config", problems, config=parse_config(data, problems))
    if role == "tasks" or (role is None and looks_like_tasks(data)):
        return ParsedFile(path, "tasks", problems, tasks=parse_tasks(data, problems))
    if looks_like_n8n(data) or (
        isinstance(data, list) and data and all(looks_like_n8n(d) for d in data)
    ):
        return ParsedFile(path, "n8n", problems, workflows=parse_n8n(data, problems))
    if role == "n8n" and isinstance(data, list):
        return ParsedFile(path, "n8n", problems, workflows=parse_n8n(data, problems))
    problems.error(
        "",
        "wrong top-level type: expected a Task Master tasks object or an n8n workflow export "
        f"(object or array of objects with 'nodes' and 'connections'), got {type_name(data)}",
    )
    return ParsedFile(path, "unknown", problems)
