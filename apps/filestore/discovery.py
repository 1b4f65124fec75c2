"""Which files a PATH argument stands for, and what role each plays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from apps.filestore.parsing import DOC_SUFFIXES


@dataclass(frozen=True)
class Source:
    path: Path
    role: str | None  # tasks | config | document | template | n8n | None (sniff)


@dataclass(frozen=True)
class Target:
    """One PATH argument: the files it holds and the project name it suggests."""

    root: Path
    project_hint: str
    sources: list[Source]


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


def discover(path: Path) -> Target:
    path = path.resolve()
    if path.is_file():
        parent = path.parent
        # <project>/.taskmaster/tasks/tasks.json or <project>/tasks/tasks.json
        if parent.name == "tasks":
            hint_dir = (
                parent.parent.parent if parent.parent.name == ".taskmaster" else parent.parent
            )
        else:
            hint_dir = parent
        role = "config" if path.name in {"config.json", ".taskmasterconfig"} else None
        return Target(path, hint_dir.name, [Source(path, role)])

    sources: list[Source] = []
    tm = path / ".taskmaster"
    if tm.is_dir() or (path / "tasks" / "tasks.json").is_file():
        for tasks_file in (tm / "tasks" / "tasks.json", path / "tasks" / "tasks.json"):
            if tasks_file.is_file():
                sources.append(Source(tasks_file, "tasks"))
        for config in (tm / "config.json", path / ".taskmasterconfig"):
            if config.is_file():
                sources.append(Source(config, "config"))
        docs = tm / "docs" if (tm / "docs").is_dir() else path / "docs"
        sources += [Source(p, "document") for p in _files(docs, set(DOC_SUFFIXES))]
        sources += [Source(p, "template") for p in _files(tm / "templates")]
        return Target(path, path.name, sources)

    if path.name == "docs":
        docs = [Source(p, "document") for p in _files(path, set(DOC_SUFFIXES))]
        return Target(path, path.parent.name, docs)
    # A directory of n8n workflow exports (any JSON file is sniffed).
    return Target(path, path.name, [Source(p, None) for p in _files(path, {".json"})])
