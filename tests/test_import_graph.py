"""The floors of the layout (docs/architecture.md), checked over the import graph of `apps/`.

Every `import apps.x` / `from apps.x… import …` outside migrations is an edge from the importing
app to `x`, wherever it sits (module level or inside a function). An edge not listed below fails
the test: add it here only if docs/architecture.md says the floors allow it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"

FLOOR = {"core", "pg", "audit", "origins"}  # what every domain app may lean on
DOMAIN = {
    "projects",
    "access",
    "workflows",
    "tasks",
    "runs",
    "events",
    "knowledge",
    "blueprints",
    "components",
    "embeddings",
}

# Edges between domain apps, as they are today; each one is a model or rule the importer uses.
DOMAIN_EDGES = {
    "projects": set(),
    "access": set(),  # memberships name projects by FK string; the policies read _meta
    "workflows": {"projects", "tasks"},  # tasks: the move rule (tasks/rules.py), task lists
    "tasks": {"workflows"},  # services create tasks in a workflow
    "runs": {"workflows", "events"},
    "events": set(),
    "knowledge": {"projects"},
    "blueprints": set(),
    "components": set(),
    "embeddings": {"tasks", "knowledge", "blueprints", "events"},  # the embedded sources
}

# Known exceptions, each with its reason; remove an entry once the edge is gone.
KNOWN_EXCEPTIONS = {
    # Retention is one table kept by privacy and enforced by ops' archive job.
    ("ops", "privacy"): "retention rules enforced by the archive job",
    ("privacy", "ops"): "retention reads the archive job's own rules",
}

OUTER = {"ops", "dbhealth", "filestore", "privacy", "backups"}  # may use every domain app


def allowed_targets(app: str) -> set[str]:
    if app == "pg":
        return set()
    if app == "core":
        return {"pg"}
    if app == "audit":
        return {"core", "pg"}
    if app in DOMAIN:
        return FLOOR | DOMAIN_EDGES[app]
    if app in OUTER:
        # ops: jobs the Database pages start; backups: the restore-test finding on those pages
        return FLOOR | DOMAIN | {"ops", "backups"} - {app}
    if app == "origins":  # query tags sit under every app: they import none
        return {"core", "pg"}
    if app == "safe_migrations":
        return {"core", "pg"}
    if app == "demo":
        return set(all_apps()) - {"demo"}
    raise AssertionError(f"apps/{app} is not placed on a floor: add it to this test")


def all_apps() -> list[str]:
    return sorted(p.name for p in APPS_DIR.iterdir() if (p / "__init__.py").exists())


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) -> the files holding such an import."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in APPS_DIR.rglob("*.py"):
        relative = path.relative_to(APPS_DIR)
        if "migrations" in relative.parts:
            continue
        app = relative.parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "apps" and len(parts) > 1 and parts[1] != app:
                    edges[(app, parts[1])].append(str(relative))
    return edges


def test_the_graph_is_read():
    edges = import_edges()
    assert ("tasks", "workflows") in edges  # a known edge: the walker sees real imports
    assert ("demo", "tasks") in edges


def test_every_app_is_on_a_floor():
    for app in all_apps():
        allowed_targets(app)


def test_imports_follow_the_floors():
    violations = [
        f"apps.{a} imports apps.{b} ({', '.join(sorted(set(files)))})"
        for (a, b), files in sorted(import_edges().items())
        if b not in allowed_targets(a) and (a, b) not in KNOWN_EXCEPTIONS
    ]
    assert not violations, "\n".join(violations)


def test_nothing_imports_demo_and_pg_imports_no_app():
    edges = import_edges()
    assert not [a for a, b in edges if b == "demo"]
    assert not [b for a, b in edges if a == "pg"]


def test_known_exceptions_still_exist():
    """A fixed exception is removed from the list, so the list stays true."""
    edges = import_edges()
    assert not [edge for edge in KNOWN_EXCEPTIONS if edge not in edges]
