"""Reading and validating legacy file-store files. Pure Python: no database access.

Every problem carries the file path and a JSON pointer (line/column for invalid JSON); a file with
errors is not written at all. Task Master files are streamed (jsonio): each task becomes a compact
`TaskRecord` as soon as it is read, its texts parked in a spill file until they are written.
"""

from __future__ import annotations

import json
import re
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from apps.core.validation import ascii_digits
from apps.filestore import jsonio
from apps.filestore.jsonio import Streamed
from apps.filestore.problems import Problems, child, pointer

# --- Task Master vocabulary ---------------------------------------------------------------------
# Task Master's statuses (spelled as it writes them) → Flowbase TaskStatus (apps/tasks/models.py).
STATUS_NATIVE = {
    "pending": "pending",
    "in-progress": "in_progress",
    "review": "review",
    "done": "done",
    "deferred": "deferred",
    "cancelled": "cancelled",
    "blocked": "blocked",
}
# Seen in real files (tm-core's own `completed`, trackers' vocabularies): mapped, with a warning.
STATUS_FOREIGN = {
    "completed": "done",
    "complete": "done",
    "finished": "done",
    "closed": "done",
    "resolved": "done",
    "todo": "pending",
    "to-do": "pending",
    "open": "pending",
    "new": "pending",
    "not-started": "pending",
    "backlog": "pending",
    "wip": "in_progress",
    "doing": "in_progress",
    "started": "in_progress",
    "active": "in_progress",
    "in-review": "review",
    "needs-review": "review",
    "on-hold": "deferred",
    "paused": "deferred",
    "postponed": "deferred",
    "deprecated": "cancelled",
    "canceled": "cancelled",
    "obsolete": "cancelled",
    "superseded": "cancelled",
    "skipped": "cancelled",
    "abandoned": "cancelled",
}
# Flowbase status → the spelling export_tasks writes.
STATUS_EXPORT = {flowbase: spelling for spelling, flowbase in STATUS_NATIVE.items()}
# Task Master priorities (tm-core's TaskPriority) → Flowbase priority 0-10 (higher is more urgent).
PRIORITY_NATIVE = {"critical": 10, "high": 8, "medium": 5, "low": 2}
PRIORITY_FOREIGN = {
    "urgent": 10,
    "highest": 10,
    "blocker": 10,
    "p0": 10,
    "major": 8,
    "p1": 8,
    "normal": 5,
    "moderate": 5,
    "med": 5,
    "p2": 5,
    "minor": 2,
    "p3": 2,
    "lowest": 0,
    "trivial": 0,
}
PRIORITY_EXPORT = {value: spelling for spelling, value in PRIORITY_NATIVE.items()}
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
KNOWN_FIELDS = frozenset(KNOWN_TASK_FIELDS)
# Key inside Task.legacy holding what the export needs to write the record back as it was read.
MARKER = "_filestore"
TITLE_MAX = 500
DERIVED_TITLE_MAX = 120
KEY_MAX = 64
# A suffix that tells apart subtasks repeating an id of their parent ("12.1", "12.1#2", …).
DUPLICATE_MARK = "#"
TOP_ID = re.compile(r"^[\w-]{1,40}$")
SUB_ID = re.compile(r"^[\w-]{1,40}(\.[\w-]{1,40})*$")

DOC_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".rst": "text"}


def spelling(value: str) -> str:
    """'In Progress', 'in_progress' → 'in-progress'."""
    return "-".join(value.strip().lower().replace("_", "-").split())


def status_of(raw: Any) -> tuple[str | None, bool]:
    """(Flowbase status or None when unknown, whether it is a foreign word)."""
    if raw is None:
        return DEFAULT_STATUS, False
    if not isinstance(raw, str):
        return None, False
    word = spelling(raw)
    if word in STATUS_NATIVE:
        return STATUS_NATIVE[word], False
    if word in STATUS_FOREIGN:
        return STATUS_FOREIGN[word], True
    return None, False


def priority_of(raw: Any) -> tuple[int | None, bool]:
    if raw is None:
        return DEFAULT_PRIORITY, False
    if isinstance(raw, int) and not isinstance(raw, bool):
        return (raw, False) if 0 <= raw <= 10 else (None, False)
    if not isinstance(raw, str):
        return None, False
    word = spelling(raw)
    if word in PRIORITY_NATIVE:
        return PRIORITY_NATIVE[word], False
    if word in PRIORITY_FOREIGN:
        return PRIORITY_FOREIGN[word], True
    if ascii_digits(word) and len(word.lstrip("0")) <= 2 and int(word) <= 10:
        return int(word), True
    return None, False


def derive_title(description: str) -> str:
    """A title for a record that has none: the first line of its description, shortened."""
    line = next((x.strip() for x in description.splitlines() if x.strip()), "")
    if len(line) <= DERIVED_TITLE_MAX:
        return line
    cut = line[: DERIVED_TITLE_MAX - 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut[40:] else cut
    return cut.rstrip(" ,.;:") + "…"


def number_text(value: Decimal) -> str:
    """A non-integral JSON number as JavaScript (Task Master) reads it: 3.10 → '3.1'."""
    return repr(float(value))


def own_id(raw: Any, parent_key: str | None) -> tuple[str | None, str | None]:
    """(the id's own part for the external key, or None and the reason)."""
    if isinstance(raw, bool) or raw is None or isinstance(raw, list | dict):
        return None, f"'id' must be an integer or a string, got {type_name(raw)}"
    if isinstance(raw, Decimal):
        if raw == raw.to_integral_value():
            raw = int(raw)
        elif parent_key is None:
            return None, f"a task 'id' must be an integer or a string, got {raw}"
        else:
            raw = number_text(raw)
    if isinstance(raw, int):
        return (str(raw), None) if raw >= 0 else (None, f"'id' must not be negative, got {raw}")
    if not isinstance(raw, str):
        return None, f"'id' must be an integer or a string, got {type_name(raw)}"
    part = raw.strip()
    if parent_key is not None and part.startswith(parent_key + "."):
        part = part[len(parent_key) + 1 :]
    pattern = TOP_ID if parent_key is None else SUB_ID
    if not pattern.match(part):
        allowed = "letters, digits, _ and -" + ("" if parent_key is None else ", dotted")
        return None, f"'id' {raw!r} is not a valid id ({allowed})"
    return part, None


def render_own(own: str) -> int | str:
    """The JSON form export_tasks writes for an id's own part: 7 for '7', 'setup-db' for a slug."""
    return int(own) if ascii_digits(own) and (own == "0" or not own.startswith("0")) else own


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return "number"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        Streamed: "array",
    }.get(type(value), type(value).__name__)


def valid_reference(dep: Any) -> bool:
    """A dependency entry Task Master could have written: an id, a dotted id, or a number."""
    if isinstance(dep, bool):
        return False
    if isinstance(dep, int):
        return dep >= 0
    if isinstance(dep, Decimal):
        return dep >= 0
    return isinstance(dep, str) and bool(SUB_ID.match(dep.strip()))


# --- the spill: texts of parsed tasks, until they are written -----------------------------------
class Spill:
    """Task texts kept out of memory until they are written: in memory up to a few MB, then in a
    temporary file. A slot is its six strings joined by NUL (title, description, details,
    test_strategy, other keys JSON, marker JSON): a string with a NUL fails its file at parse
    time, so a slot that is read back never holds one."""

    FLUSH = 1 << 20

    def __init__(self) -> None:
        # Lives as long as the parsed file; ParsedFile.close() closes it.
        self.file = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+b")  # noqa: SIM115
        self.offsets = array("q", [0])
        self.pending: list[bytes] = []
        self.pending_size = 0

    def put(self, texts: list[str]) -> int:
        data = "\x00".join(texts).encode("utf-8", "surrogatepass")
        self.pending.append(data)
        self.pending_size += len(data)
        self.offsets.append(self.offsets[-1] + len(data))
        if self.pending_size > self.FLUSH:
            self._flush()
        return len(self.offsets) - 2

    def _flush(self) -> None:
        if self.pending:
            self.file.seek(0, 2)
            self.file.write(b"".join(self.pending))
            self.pending, self.pending_size = [], 0

    def get(self, slot: int) -> list[str]:
        """[title, description, details, test_strategy, extras JSON, marker JSON]."""
        self._flush()
        start, end = self.offsets[slot], self.offsets[slot + 1]
        self.file.seek(start)
        return self.file.read(end - start).decode("utf-8", "surrogatepass").split("\x00")

    def close(self) -> None:
        self.file.close()


# --- records ------------------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class TaskRecord:
    key: str  # external_key: "5", "5.2" for subtask 2 of task 5, "5.2.1" one level deeper
    parent: TaskRecord | None
    tag: TagRecord
    pos: int  # index in the parent's array in the file
    level: int
    status: str
    priority: int
    deps: tuple | None  # the dependency entries as written
    slot: int  # its texts in the spill
    index: int  # its position in tag.tasks

    @property
    def parent_key(self) -> str | None:
        return self.parent.key if self.parent is not None else None

    @property
    def pointer(self) -> str:
        parts: list[int] = []
        record: TaskRecord | None = self
        while record is not None:
            parts.append(record.pos)
            record = record.parent
        ptr = child(self.tag.pointer, "tasks", parts.pop())
        while parts:
            ptr = child(ptr, "subtasks", parts.pop())
        return ptr

    def texts(self) -> list:
        """[title, description, details, test_strategy, extras JSON, marker JSON]."""
        return self.tag.spill.get(self.slot)

    @property
    def title(self) -> str:
        return self.texts()[0]

    @property
    def description(self) -> str:
        return self.texts()[1]

    @property
    def details(self) -> str:
        return self.texts()[2]

    @property
    def test_strategy(self) -> str:
        return self.texts()[3]

    @property
    def legacy(self) -> dict:
        return jsonio.loads(legacy_json(*self.texts()[4:], skipped=None))

    @property
    def dependencies(self) -> list[tuple[str, str]]:
        """(the key each entry names at first sight, its pointer); planning resolves them."""
        out = []
        for index, dep in enumerate(self.deps or ()):
            ptr = child(self.pointer, "dependencies", index)
            out.append((reference_text(dep, self.parent_key), ptr))
        return out


def reference_text(dep: Any, parent_key: str | None) -> str:
    if isinstance(dep, Decimal):
        dep = int(dep) if dep == dep.to_integral_value() else number_text(dep)
    if isinstance(dep, int):
        return str(dep) if parent_key is None else f"{parent_key}.{dep}"
    return str(dep).strip()


def legacy_json(extras_json: str, marker_json: str, *, skipped: list[int] | None) -> str:
    """Task.legacy as JSON text: the record's other keys plus the export marker."""
    if skipped:
        marker_json = marker_json[:-1] + ', "deps_skipped": ' + json.dumps(skipped) + "}"
    body = f'"{MARKER}": {marker_json}'
    return "{" + body + "}" if extras_json == "{}" else extras_json[:-1] + ", " + body + "}"


@dataclass(eq=False)
class TagRecord:
    name: str
    pointer: str
    spill: Spill
    tasks: list[TaskRecord] = field(default_factory=list)
    metadata: Any = None
    keys: list[str] = field(default_factory=list)  # the tag object's keys, in file order
    extra: dict = field(default_factory=dict)  # its keys other than tasks and metadata
    position: int = 0
    read: int = 0  # task and subtask objects in the file, valid or not
    dependencies_read: int = 0


@dataclass
class TasksDocument:
    shape: str  # "legacy" | "tagged"
    tags: list[TagRecord]


@dataclass
class N8nWorkflow:
    name: str
    source_key: str  # "n8n:<id>" or "file:<path>[#index]": the workflow's key across imports
    pointer: str
    definition: dict
    node_count: int
    tags: list[str]
    active: bool
    legacy: dict  # the export's other keys, key order, name as written
    connections: int = 0


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
    kind: str  # tasks | config | state | document | template | n8n | unknown
    problems: Problems
    tasks: TasksDocument | None = None
    config: dict | None = None
    document: Document | None = None
    template: TemplateFile | None = None
    workflows: list[N8nWorkflow] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)  # entity → objects in the file
    spill: Spill | None = None

    @property
    def ok(self) -> bool:
        return not self.problems.failed

    def close(self) -> None:
        if self.spill is not None:
            self.spill.close()
            self.spill = None


# --- Task Master tasks files ---------------------------------------------------------------------
class _Tally:
    """Foreign spellings and other per-kind notes: one warning each, with a count."""

    def __init__(self) -> None:
        self.seen: dict[tuple, list] = {}

    def note(self, kind: tuple, where: Callable[[], str]) -> None:
        entry = self.seen.get(kind)
        if entry is None:
            self.seen[kind] = [1, where()]
        else:
            entry[0] += 1

    def flush(self, problems: Problems) -> None:
        for kind, (count, ptr) in self.seen.items():
            what = f"{count} record(s), first at {ptr}"
            if kind[0] in ("status", "priority"):
                _, raw, mapped = kind
                problems.warning(
                    ptr,
                    f"{kind[0]} {raw!r} is not a Task Master {kind[0]}: read as {mapped!r} ({what})",
                    entity="task",
                )
            elif kind[0] == "title":
                problems.warning(
                    ptr,
                    f"no title: made from the description ({what}); written back without one",
                    entity="task",
                )


class TasksReader:
    """Turns the streamed items of a tasks file into records, tag by tag."""

    def __init__(self, problems: Problems, spill: Spill) -> None:
        self.problems = problems
        self.spill = spill
        self.tags: dict[tuple, TagRecord] = {}  # array path → tag
        self.seen: dict[int, dict[str, TaskRecord]] = {}  # id(tag) → key → its first record
        self.tally = _Tally()
        self.legacy_seen = False

    # which arrays are streamed: the legacy top-level `tasks`, and `<tag>.tasks`
    def stream(self, path: tuple) -> bool:
        if path == ("tasks",):
            self.legacy_seen = True
            return True
        return (
            len(path) == 2
            and isinstance(path[0], str)
            and path[1] == "tasks"
            and not self.legacy_seen
        )

    def tag_for(self, path: tuple) -> TagRecord:
        tag = self.tags.get(path)
        if tag is None:
            name = "master" if len(path) == 1 else path[0]
            ptr = "" if len(path) == 1 else pointer(path[0])
            tag = TagRecord(name=name, pointer=ptr, spill=self.spill)
            self.tags[path] = tag
            self.seen[id(tag)] = {}
        return tag

    def on_item(self, path: tuple, index: int, raw: Any) -> None:
        tag = self.tag_for(path)
        _count(raw, tag)
        self._convert(raw, tag, None, index, [])

    def _convert(
        self, raw: Any, tag: TagRecord, parent: TaskRecord | None, pos: int, repeated: list
    ) -> None:
        record = self._record(raw, tag, parent, pos, repeated)
        if record is None:
            return
        raw_subtasks = raw.get("subtasks")
        if raw_subtasks is None:
            return
        if not isinstance(raw_subtasks, list):
            self.problems.error(
                child(record.pointer, "subtasks"),
                f"'subtasks' must be an array, got {type_name(raw_subtasks)}",
                entity="task",
            )
            return
        repeats: list[str] = []
        for index, raw_sub in enumerate(raw_subtasks):
            self._convert(raw_sub, tag, record, index, repeats)
        if repeats:
            shown = ", ".join(repeats[:3]) + (" …" if len(repeats) > 3 else "")
            self.problems.warning(
                child(record.pointer, "subtasks"),
                f"task {record.key!r}: {len(repeats)} subtask(s) repeat an id already used in it; "
                f"kept in file order as {shown}; a dependency on the id means the first",
                entity="task",
            )

    def _record(
        self, raw: Any, tag: TagRecord, parent: TaskRecord | None, pos: int, repeated: list
    ) -> TaskRecord | None:
        """One task object → a record (None when invalid: every problem is reported)."""
        problems = self.problems
        parent_key = parent.key if parent is not None else None

        def at(*field: str | int) -> str:  # pointers are built only for problems
            base = (
                child(tag.pointer, "tasks", pos)
                if parent is None
                else child(parent.pointer, "subtasks", pos)
            )
            return child(base, *field)

        if type(raw) is not dict:
            what = "subtask" if parent is not None else "task"
            problems.error(at(), f"a {what} must be an object, got {type_name(raw)}", entity="task")
            return None
        ok = True
        marker: dict[str, Any] = {"keys": list(raw), "pos": pos}

        raw_id = raw.get("id")
        if type(raw_id) is int and raw_id >= 0:
            own, reason = str(raw_id), None
        else:
            own, reason = own_id(raw_id, parent_key)
        key = ""
        if own is None:
            problems.error(at("id"), reason, entity="task")
            ok = False
        else:
            key = own if parent_key is None else f"{parent_key}.{own}"
            seen = self.seen[id(tag)]
            first = seen.get(key)
            if first is not None:
                if parent is None:
                    problems.error(
                        at("id"),
                        f"duplicate task id {key!r} in tag {tag.name!r} (first at {first.pointer})",
                        entity="task",
                    )
                    ok = False
                else:
                    n = 2
                    while f"{key}{DUPLICATE_MARK}{n}" in seen:
                        n += 1
                    key = f"{key}{DUPLICATE_MARK}{n}"
                    repeated.append(key)
            if ok and len(key) > KEY_MAX:
                problems.error(at("id"), "id is too long", entity="task")
                ok = False
            written_own = key if parent_key is None else key[len(parent_key) + 1 :]
            if not (type(raw_id) is int and str(raw_id) == written_own):
                marker["id"] = raw_id
        nulls = [k for k, v in raw.items() if v is None and k in KNOWN_FIELDS]
        if nulls:
            marker["null"] = nulls

        texts = ["", "", "", ""]  # title, description, details, test_strategy
        for slot, source in ((1, "description"), (2, "details"), (3, "testStrategy")):
            value = raw.get(source)
            if type(value) is str:
                texts[slot] = value
            elif value is not None:
                problems.error(
                    at(source),
                    f"'{source}' must be a string, got {type_name(value)}",
                    entity="task",
                )
                ok = False

        title = raw.get("title")
        if type(title) is str and title.strip():
            if len(title) > TITLE_MAX:
                problems.error(
                    at("title"), f"'title' is longer than {TITLE_MAX} characters", entity="task"
                )
                ok = False
        elif (title is None or type(title) is str) and texts[1].strip():
            if type(title) is str:
                marker["title"] = title
            title = derive_title(texts[1])
            self.tally.note(("title",), lambda: at("title"))
        else:
            problems.error(
                at("title"),
                f"'title' is required (a non-empty string, or a description), got {type_name(title)}",
                entity="task",
            )
            ok = False
        texts[0] = title

        raw_status = raw.get("status")
        status = STATUS_NATIVE.get(raw_status) if type(raw_status) is str else None
        foreign = False
        if status is None:
            status, foreign = status_of(raw_status)
        if status is None:
            allowed = ", ".join(sorted(STATUS_NATIVE))
            problems.error(
                at("status"),
                f"unknown status {raw_status!r} (expected one of: {allowed})",
                entity="task",
            )
            ok = False
        else:
            if raw_status is not None and raw_status != STATUS_EXPORT[status]:
                marker["status"] = raw_status
            if foreign:
                kind = ("status", raw_status, STATUS_EXPORT[status])
                self.tally.note(kind, lambda: at("status"))

        raw_priority = raw.get("priority")
        priority = PRIORITY_NATIVE.get(raw_priority) if type(raw_priority) is str else None
        foreign = False
        if priority is None:
            priority, foreign = priority_of(raw_priority)
        if priority is None:
            if type(raw_priority) is int:
                message = f"priority {raw_priority} is outside 0-10"
            else:
                message = (
                    f"unknown priority {raw_priority!r} "
                    "(expected critical, high, medium, low or 0-10)"
                )
            problems.error(at("priority"), message, entity="task")
            ok = False
        else:
            if raw_priority is not None and raw_priority != PRIORITY_EXPORT.get(priority):
                marker["priority"] = raw_priority
            if foreign:
                kind = ("priority", raw_priority, PRIORITY_EXPORT.get(priority, priority))
                self.tally.note(kind, lambda: at("priority"))

        deps: tuple | None = None
        raw_deps = raw.get("dependencies")
        if raw_deps is not None and type(raw_deps) is not list:
            problems.error(
                at("dependencies"),
                f"'dependencies' must be an array, got {type_name(raw_deps)}",
                entity="dependency",
            )
            ok = False
        elif raw_deps:
            for index, dep in enumerate(raw_deps):
                if not valid_reference(dep):
                    problems.error(
                        at("dependencies", index),
                        f"dependency {dep!r} is neither a task id nor a 'task.subtask' reference",
                        entity="dependency",
                    )
                    ok = False
            deps = tuple(raw_deps)
            marker["deps"] = raw_deps

        extras = {k: v for k, v in raw.items() if k not in KNOWN_FIELDS}
        if MARKER in extras:
            problems.error(at(MARKER), f"field name {MARKER!r} is reserved", entity="task")
            ok = False
        if not ok:
            return None
        texts.append(jsonio.dumps(extras) if extras else "{}")
        texts.append(jsonio.dumps(marker))
        slot = self.spill.put(texts)
        record = TaskRecord(
            key=key,
            parent=parent,
            tag=tag,
            pos=pos,
            level=0 if parent is None else parent.level + 1,
            status=status,
            priority=priority,
            deps=deps,
            slot=slot,
            index=len(tag.tasks),
        )
        self.seen[id(tag)][key] = record
        tag.tasks.append(record)
        return record

    def document(self, root: Any) -> TasksDocument | None:
        """Check the top level around the streamed arrays; None when it is not a tasks file."""
        problems = self.problems
        self.tally.flush(problems)
        if not isinstance(root, dict):
            problems.error(
                "", f"wrong top-level type: expected an object of tasks, got {type_name(root)}"
            )
            return None
        if "tasks" in root:
            if any(len(p) == 2 for p in self.tags):
                problems.error(
                    "",
                    "both a top-level 'tasks' array (legacy shape) and tags with their own "
                    "'tasks' (tagged shape): not a Task Master file",
                )
                return None
            tag = self._finish_tag(("tasks",), root, "")
            return TasksDocument("legacy", [tag] if tag else [])
        if not root:
            problems.error("", "no tags: expected {'tasks': [...]} or {'<tag>': {'tasks': [...]}}")
            return None
        tags = []
        for position, (name, body) in enumerate(root.items()):
            ptr = pointer(name)
            if not isinstance(body, dict):
                problems.error(ptr, f"tag {name!r} must be an object, got {type_name(body)}")
                continue
            if not name.strip() or len(name) > 255:
                problems.error(ptr, "tag name must be 1-255 characters")
                continue
            tag = self._finish_tag((name, "tasks"), body, ptr)
            if tag:
                tag.position = position
                tags.append(tag)
        return TasksDocument("tagged", tags)

    def _finish_tag(self, path: tuple, body: dict, ptr: str) -> TagRecord | None:
        problems = self.problems
        raw_tasks = body.get("tasks")
        tag = self.tag_for(path)
        if not isinstance(raw_tasks, Streamed):
            problems.error(
                child(ptr, "tasks"), f"'tasks' must be an array, got {type_name(raw_tasks)}"
            )
            return None
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            problems.error(child(ptr, "metadata"), "'metadata' must be an object")
            return None
        tag.metadata = metadata
        tag.keys = list(body)
        tag.extra = {k: v for k, v in body.items() if k not in ("tasks", "metadata")}
        return tag


def _count(raw: Any, tag: TagRecord) -> None:
    """What the file holds, valid or not: every task object and dependency entry, any depth."""
    stack = [raw]
    while stack:
        item = stack.pop()
        tag.read += 1
        if isinstance(item, dict):
            deps = item.get("dependencies")
            if isinstance(deps, list):
                tag.dependencies_read += len(deps)
            subtasks = item.get("subtasks")
            if isinstance(subtasks, list):
                stack.extend(subtasks)


def looks_like_n8n(data: Any) -> bool:
    return isinstance(data, dict) and "nodes" in data and "connections" in data


# --- n8n workflow exports ------------------------------------------------------------------------
N8N_COLUMN_KEYS = ("name", "nodes", "connections", "tags", "active")


def parse_n8n(data: Any, problems: Problems, *, source: str, stem: str) -> list[N8nWorkflow]:
    """One workflow per export (an array holds several); `source` is the file's key path."""
    if isinstance(data, dict):
        items = [(data, "", None)]
    else:
        items = [(d, pointer(i), i) for i, d in enumerate(data)]
    workflows: list[N8nWorkflow] = []
    keys: dict[str, str] = {}
    for item, ptr, index in items:
        wf = _parse_n8n_one(item, ptr, problems, source=source, stem=stem, index=index)
        if wf is None:
            continue
        if wf.source_key in keys:
            problems.error(
                child(ptr, "id"),
                f"two workflows with the id {wf.source_key.split(':', 1)[1]!r} in one file "
                f"(first at {keys[wf.source_key] or '/'})",
                entity="workflow",
            )
            continue
        keys[wf.source_key] = ptr
        workflows.append(wf)
    return workflows


def _parse_n8n_one(
    item: Any, ptr: str, problems: Problems, *, source: str, stem: str, index: int | None
) -> N8nWorkflow | None:
    if not isinstance(item, dict):
        problems.error(
            ptr, f"an n8n workflow must be an object, got {type_name(item)}", entity="workflow"
        )
        return None
    ok = True
    raw_name = item.get("name")
    if isinstance(raw_name, str) and raw_name.strip():
        name = raw_name.strip()
    elif raw_name is None or isinstance(raw_name, str):
        name = stem if index is None else f"{stem} #{index + 1}"
        problems.warning(
            child(ptr, "name"), f"no 'name': named {name!r} after the file", entity="workflow"
        )
    else:
        problems.error(child(ptr, "name"), "'name' must be a string", entity="workflow")
        return None
    if len(name) > 200:
        problems.error(
            child(ptr, "name"), "'name' is longer than 200 characters", entity="workflow"
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
    for index_, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            problems.error(
                child(ptr, "nodes", index_),
                "a node must be an object with a string 'name'",
                entity="workflow",
            )
            ok = False
            continue
        if node["name"] in node_names:
            problems.error(
                child(ptr, "nodes", index_, "name"),
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
    edges = _check_connections(connections, node_names, child(ptr, "connections"), problems)
    tags: list[str] = []
    raw_tags = item.get("tags") or []
    if not isinstance(raw_tags, list):
        problems.error(child(ptr, "tags"), "'tags' must be an array", entity="workflow")
        ok = False
        raw_tags = []
    for i, tag in enumerate(raw_tags):
        if isinstance(tag, str):
            tags.append(tag)
        elif isinstance(tag, dict) and isinstance(tag.get("name"), str):
            tags.append(tag["name"])
        else:
            problems.error(
                child(ptr, "tags", i),
                "a tag must be a string or an object with a 'name'",
                entity="workflow",
            )
            ok = False
    if not ok:
        return None
    n8n_id = item.get("id")
    if isinstance(n8n_id, str | int) and not isinstance(n8n_id, bool) and str(n8n_id).strip():
        source_key = f"n8n:{str(n8n_id).strip()}"
    else:
        source_key = f"file:{source}" + ("" if index is None else f"#{index}")
    legacy = {
        "source": "n8n",
        "keys": list(item),
        "extra": {k: v for k, v in item.items() if k not in N8N_COLUMN_KEYS},
    }
    if "name" in item and item["name"] != name:
        legacy["name"] = item["name"]
    if "tags" in item and item["tags"] != tags:
        legacy["tags"] = item["tags"]
    if "active" in item and not isinstance(item["active"], bool):
        legacy["active"] = item["active"]
    return N8nWorkflow(
        name=name,
        source_key=source_key[:255],
        pointer=ptr,
        definition={"nodes": nodes, "connections": connections},
        node_count=len(nodes),
        tags=tags,
        active=bool(item.get("active")),
        legacy=legacy,
        connections=edges,
    )


def _check_connections(connections: dict, nodes: set, ptr: str, problems: Problems) -> int:
    """n8n's {source: {type: [[{node, type, index}, …], …]}}: one warning per edge that names a
    node the workflow does not have. Returns the number of edges."""
    edges = 0
    for source, outputs in connections.items():
        if not isinstance(outputs, dict):
            problems.warning(
                child(ptr, source),
                f"connections of {source!r} are not in n8n's shape: kept as they are",
                entity="workflow",
            )
            continue
        for kind, slots in outputs.items():
            for slot_index, slot in enumerate(slots if isinstance(slots, list) else ()):
                for edge_index, edge in enumerate(slot if isinstance(slot, list) else ()):
                    edges += 1
                    where = child(ptr, source, kind, slot_index, edge_index)
                    target = edge.get("node") if isinstance(edge, dict) else None
                    if source not in nodes:
                        problems.warning(
                            where,
                            f"connection from unknown node {source!r} (to {target!r})",
                            entity="connection",
                        )
                    elif target not in nodes:
                        problems.warning(
                            child(where, "node"),
                            f"connection from {source!r} to unknown node {target!r}",
                            entity="connection",
                        )
    return edges


# --- documents, templates, config ----------------------------------------------------------------
def slug_for(path: Path) -> str:
    from django.utils.text import slugify

    return (slugify(path.stem) or "document")[:255]


def _read_text(path: Path, problems: Problems, entity: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        problems.error("", f"cannot read as UTF-8 text: {exc}", entity=entity)
        return None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        problems.error("", "text contains a NUL character", entity=entity, line=line, column=1)
        return None
    return text


def parse_document(path: Path, problems: Problems) -> Document | None:
    text = _read_text(path, problems, "article")
    if text is None:
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
    text = _read_text(path, problems, "template")
    if text is None:
        return None
    return TemplateFile(
        name=path.stem[:255] or path.name,
        type=template_type(path),
        content={"filename": path.name, "format": path.suffix.lstrip(".").lower(), "text": text},
        tags=["imported"],
    )


def parse_config(data: Any, problems: Problems, *, what: str = "a config") -> dict | None:
    if not isinstance(data, dict):
        problems.error("", f"wrong top-level type: {what} must be an object, got {type_name(data)}")
        return None
    _warn_spread_strings(data, "", problems)
    return data


def _warn_spread_strings(value: Any, ptr: str, problems: Problems) -> None:
    """JavaScript's {...'text'} leaves {"0": "t", "1": "e", …}: warn where a config has that."""
    if isinstance(value, dict):
        n = 0
        while str(n) in value and isinstance(value[str(n)], str) and len(value[str(n)]) == 1:
            n += 1
        if n >= 3:
            spread = "".join(value[str(i)] for i in range(n))
            problems.warning(
                ptr,
                f"keys '0'…'{n - 1}' spell {spread!r}: a string spread into an object "
                "(broken config shape); kept as it is",
                entity="project",
            )
        for key, item in value.items():
            _warn_spread_strings(item, child(ptr, key), problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _warn_spread_strings(item, child(ptr, index), problems)


# --- one file ------------------------------------------------------------------------------------
def parse_file(path: Path, role: str | None = None, *, source: str | None = None) -> ParsedFile:
    """Read one file. `role` is what discovery decided from its location; None means sniff JSON.
    `source` names the file relative to what was imported (n8n workflows are keyed by it)."""
    problems = Problems(str(path))
    if role == "document":
        return ParsedFile(path, "document", problems, document=parse_document(path, problems))
    if role == "template":
        return ParsedFile(path, "template", problems, template=parse_template(path, problems))
    streaming = role in ("tasks", None)
    spill = Spill() if streaming else None
    reader = TasksReader(problems, spill) if streaming else None
    ok, data = jsonio.read(
        path,
        problems,
        stream=reader.stream if reader else None,
        on_item=reader.on_item if reader else None,
    )
    parsed = ParsedFile(path, role or "unknown", problems, spill=spill)
    if reader is not None:
        parsed.read["task"] = sum(t.read for t in reader.tags.values())
        parsed.read["dependency"] = sum(t.dependencies_read for t in reader.tags.values())
    if not ok:
        if reader is not None and reader.tags:
            parsed.kind = "tasks"
        return parsed
    if role in ("config", "state"):
        what = "a config" if role == "config" else "state.json"
        parsed.config = parse_config(data, problems, what=what)
        return parsed
    is_tasks = role == "tasks" or (
        reader is not None
        and isinstance(data, dict)
        and (bool(reader.tags) or isinstance(data.get("tasks"), Streamed))
    )
    if is_tasks:
        parsed.kind = "tasks"
        parsed.tasks = reader.document(data)
        if parsed.tasks is not None:
            parsed.read["workflow"] = len(parsed.tasks.tags)
        return parsed
    parsed.close()
    if looks_like_n8n(data) or (
        isinstance(data, list) and data and all(looks_like_n8n(d) for d in data)
    ):
        parsed.kind = "n8n"
        parsed.workflows = parse_n8n(
            data, problems, source=source or path.name, stem=path.stem or path.name
        )
        items = data if isinstance(data, list) else [data]
        parsed.read["workflow"] = len(items)
        parsed.read["connection"] = sum(
            _count_edges(d.get("connections")) for d in items if isinstance(d, dict)
        )
        return parsed
    parsed.kind = "unknown"
    problems.error(
        "",
        "wrong top-level type: expected a Task Master tasks object or an n8n workflow export "
        f"(object or array of objects with 'nodes' and 'connections'), got {type_name(data)}"
        + (" of other objects" if isinstance(data, dict) and data else ""),
    )
    return parsed


def _count_edges(connections: Any) -> int:
    total = 0
    if isinstance(connections, dict):
        for outputs in connections.values():
            if isinstance(outputs, dict):
                for slots in outputs.values():
                    for slot in slots if isinstance(slots, list) else ():
                        total += len(slot) if isinstance(slot, list) else 0
    return total
