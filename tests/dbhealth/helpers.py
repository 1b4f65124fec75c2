from __future__ import annotations

import io
import json

from django.core.management import call_command

from apps.dbhealth import selectors


def dbhealth_json(*sections: str) -> tuple[int, dict]:
    """Run `manage.py dbhealth --json [--section ...]`; (exit code, document)."""
    out = io.StringIO()
    args = ["dbhealth", "--json"]
    for s in sections:
        args += ["--section", s]
    code = 0
    try:
        call_command(*args, stdout=out)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, json.loads(out.getvalue())


def metrics_text(client) -> str:
    selectors.cache_clear()  # a scrape reads a 30 s snapshot; start from a fresh one
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def metric_value(text: str, name: str, labels: str = "") -> float | None:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return None


def finding_keys(client) -> set[str]:
    from tests.dbhealth.conftest import page_url

    response = client.get(page_url("findings") + "?refresh=1")
    assert response.status_code == 200
    html = response.content.decode()
    keys = set()
    for chunk in html.split('data-key="')[1:]:
        keys.add(chunk.split('"', 1)[0])
    return keys


SHIPPED = "0002_operators_group_and_default_checks"


def apply_shipped_migration() -> None:
    """Run data migration 0002's forwards() with the historical models, as `migrate` does."""
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    module = importlib.import_module(f"apps.dbhealth.migrations.{SHIPPED}")
    state = MigrationLoader(connection).project_state(("dbhealth", SHIPPED))
    module.forwards(state.apps, connection.schema_editor())
