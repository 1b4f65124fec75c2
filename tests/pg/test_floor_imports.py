"""The PostgreSQL floor imports no Flowbase app: only the standard library, Django, psycopg,
psqlextra, pgtrigger (and dateutil, psqlextra's own dependency) and apps.pg itself."""

import ast
from pathlib import Path

import pytest

import apps.pg

FLOOR = Path(apps.pg.__file__).parent
ALLOWED_THIRD_PARTY = {"django", "psycopg", "psqlextra", "pgtrigger", "dateutil"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a module of the floor."""
    package = ".".join(("apps", "pg", *path.relative_to(FLOOR).parent.parts))
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module
            found.append((node.lineno, module))
    return found


def _is_allowed(module: str) -> bool:
    import sys

    top = module.split(".")[0]
    if top == "apps":
        return module == "apps.pg" or module.startswith("apps.pg.")
    return top in ALLOWED_THIRD_PARTY or top in sys.stdlib_module_names or top == "__future__"


MODULES = sorted(FLOOR.rglob("*.py"))


def test_the_floor_has_modules_to_check():
    assert len(MODULES) >= 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(FLOOR)))
def test_the_floor_imports_no_flowbase_app(path):
    wrong = [f"line {line}: {module}" for line, module in _imports(path) if not _is_allowed(module)]
    assert not wrong, f"apps/pg/{path.relative_to(FLOOR)} imports {wrong}"


def test_the_check_catches_a_domain_import(tmp_path):
    # The walker itself: a relative import climbing out of apps.pg is a domain import too.
    probe = FLOOR / "partitioning" / "_probe_does_not_exist.py"
    tree = "from ...tasks.models import Task\nfrom apps.events import models\nimport json\n"
    try:
        probe.write_text(tree)
        modules = [m for _, m in _imports(probe)]
    finally:
        probe.unlink()
    assert modules == ["apps.tasks.models", "apps.events", "json"]
    assert [_is_allowed(m) for m in modules] == [False, False, True]
