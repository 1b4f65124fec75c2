"""Which files a PATH argument stands for, and what role each plays (as Task Master reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apps.filestore.parsing import DOC_SUFFIXES


@dataclass(frozen=True)
class Source:
    path: Path
    role: str | None  # tasks | config | state | document | template | n8n | None (sniff)
    name: str = ""  # the path relative to what was imported (keys n8n workflows without an id)
    # files of the same kind that lost to this one (e.g. the old layout beside .taskmaster/)
    shadowed: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Target:
    """One PATH argument: the files it holds and the project name it suggests."""

    root: Path
    project_hint: str
    sources: list[Source] = field(default_factory=list)


def _files(directory: Path, suffixes: set[str] | None = None) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and (suffixes is None or p.suffix.lower() in suffixes)
    )


def _first(role: str, candidates: list[Path], root: Path) -> list[Source]:
    """Task Master reads the first existing file of `candidates`; the others are reported."""
    present = [p for p in candidates if p.is_file()]
    if not present:
        return []
    winner, *losers = present
    return [Source(winner, role, _relative(winner, root), tuple(losers))]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


FILE_ROLES = {"config.json": "config", ".taskmasterconfig": "config", "state.json": "state"}


def discover(path: Path) -> Target:
    path = path.resolve()
    if path.is_file():
        parent = path.parent
        # <project>/.taskmaster/tasks/tasks.json, <project>/tasks/tasks.json, <project>/.taskmaster/x
        if parent.name == "tasks":
            hint_dir = (
                parent.parent.parent if parent.parent.name == ".taskmaster" else parent.parent
            )
        elif parent.name == ".taskmaster":
            hint_dir = parent.parent
        else:
            hint_dir = parent
        role = FILE_ROLES.get(path.name)
        return Target(path, hint_dir.name, [Source(path, role, path.name)])

    tm = path / ".taskmaster"
    if tm.is_dir() or (path / "tasks" / "tasks.json").is_file():
        sources = _first(
            "tasks", [tm / "tasks" / "tasks.json", path / "tasks" / "tasks.json"], path
        )
        sources += _first("config", [tm / "config.json", path / ".taskmasterconfig"], path)
        sources += _first("state", [tm / "state.json"], path)
        docs = tm / "docs" if (tm / "docs").is_dir() else path / "docs"
        sources += [
            Source(p, "document", _relative(p, path)) for p in _files(docs, set(DOC_SUFFIXES))
        ]
        sources += [Source(p, "template", _relative(p, path)) for p in _files(tm / "templates")]
        return Target(path, path.name, sources)

    if path.name == "docs":
        docs = [Source(p, "document", _relative(p, path)) for p in _files(path, set(DOC_SUFFIXES))]
        return Target(path, path.parent.name, docs)
    # A directory of n8n workflow exports (any JSON file is sniffed).
    sources = [Source(p, None, _relative(p, path)) for p in _files(path, {".json"})]
    return Target(path, path.name, sources)
