"""The documented --json shape (docs/dbhealth-json.md) and the matview "refresh now" action."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import SCHEMA, page_url
from .helpers import dbhealth_json

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])

DOC = Path(__file__).resolve().parents[2] / "docs" / "dbhealth-json.md"


def _documented_keys(block: str) -> set[str]:
    return set(re.findall(r'"([a-z_]+)":', block))


def test_json_fields_are_the_documented_ones(scratch):
    _, doc = dbhealth_json()
    documented = _documented_keys(DOC.read_text())
    assert {"schema_version", "generated_at", "critical_open", "sections"} <= set(doc)
    seen: set[str] = set()

    def walk(value, depth=0):
        if isinstance(value, dict):
            for k, v in value.items():
                if depth < 4 and k not in ("evidence", "last_failing_rows"):
                    seen.add(k)
                    walk(v, depth + 1)
        elif isinstance(value, list) and value:
            walk(value[0], depth)

    walk(doc)
    undocumented = {k for k in seen if re.fullmatch(r"[a-z_]+", k)} - documented
    assert not undocumented, f"fields missing from docs/dbhealth-json.md: {sorted(undocumented)}"


def test_refresh_now_enqueues_the_ops_task_and_audits(admin_client_dbh, superuser, monkeypatch):
    from apps.audit.models import AuditEventRow
    from apps.ops import tasks

    sent = []
    monkeypatch.setattr(
        tasks.refresh_matview_task,
        "delay",
        lambda name: sent.append(name) or type("R", (), {"id": "t-1"})(),
    )
    r = admin_client_dbh.post(page_url("matviews/refresh"), {"name": "workflow_summary"})
    assert r.status_code == 302 and sent == ["workflow_summary"]
    assert AuditEventRow.objects.filter(
        table_name="matview", row_pk="workflow_summary", actor_id=superuser.pk
    ).exists()
    # Unregistered names are refused with a message, nothing enqueued.
    r = admin_client_dbh.post(
        page_url("matviews/refresh"), {"name": f"{SCHEMA}.old_mv"}, follow=True
    )
    assert sent == ["workflow_summary"] and b"not in apps.ops.matviews.REGISTRY" in r.content
    assert admin_client_dbh.get(page_url("matviews/refresh")).status_code == 405
