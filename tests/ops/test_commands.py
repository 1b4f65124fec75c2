"""The management commands: output, dry runs, errors."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.ops.models import ArchivedWorkflow, MatviewRefresh
from apps.workflows.models import Workflow

from .conftest import make_workflow

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("clean_archive"),
]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_refresh_views_named_and_unknown():
    output = run("refresh_views", "workflow_summary", "--no-concurrently")
    assert output.startswith("workflow_summary: success")
    assert "(concurrently)" not in output
    assert MatviewRefresh.objects.get().concurrently is False
    with pytest.raises(CommandError, match="unknown views: nope"):
        run("refresh_views", "nope")


def test_archive_is_a_dry_run_unless_apply_then_restore():
    workflow = make_workflow(age_days=40, tasks=2)
    assert "would move 1 workflows, 2 tasks, 1 dependencies" in run("archive", "--older-than", "30")
    assert Workflow.objects.filter(pk=workflow.pk).exists()
    assert "would move 0 workflows" in run("archive")  # default: ARCHIVE_AFTER_DAYS = 365
    output = run("archive", "--older-than", "30", "--apply")
    assert "success" in output and "workflows 1/1, tasks 2/2, dependencies 1/1" in output
    assert ArchivedWorkflow.objects.filter(pk=workflow.pk).exists()
    assert "2 tasks, 1 dependencies" in run("archive_restore", "--workflow", str(workflow.pk))
    with pytest.raises(CommandError, match="not in the archive"):
        run("archive_restore", "--workflow", str(workflow.pk))


def test_maintain_json_dry_run():
    records = json.loads(run("maintain", "--json", "--step", "vacuum_report"))
    assert [(r["step"], r["outcome"], r["applied"]) for r in records] == [
        ("run", "dry_run", False),
        ("vacuum_report", "dry_run", False),
    ]
    assert "needs_vacuum" in records[1]["details"]


def test_maintain_prints_details_for_people_not_python_reprs():
    from apps.ops.management.commands.maintain import detail_lines

    out = run("maintain", "--step", "retention", "--step", "analyze")
    assert "[" not in out and "{" not in out and "'" not in out
    assert detail_lines(
        "privacy", {"events.Event": {"older_than_days": 730, "would_drop": []}}
    ) == [
        "    privacy:",
        "        events.Event: older_than_days 730, would_drop none",
    ]
