"""Accepting a finding from the Findings page: its own permission, POST only, a required reason
refused when empty, too long or not storable text, an audit row, and a page whose query count
does not grow with the findings."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEventRow
from apps.dbhealth import selectors, services
from apps.dbhealth.cache import safe_cache
from apps.dbhealth.models import Finding, FindingStatus

from .conftest import page_url

DATABASES = ["default", "monitor", "readonly"]
pytestmark = pytest.mark.django_db(databases=DATABASES)


def _finding(key="index.unused:public.acc_idx", status=FindingStatus.OPEN) -> Finding:
    now = timezone.now()
    return Finding.objects.create(
        key=key, kind="index.unused", severity="warning", object_name=key.split(":")[1],
        title=f"Unused index {key}", evidence={"size_bytes": 8192, "idx_scan": 0},
        status=status, first_seen=now, last_seen=now,
    )  # fmt: skip


def _state(f: Finding) -> tuple:
    f.refresh_from_db()
    return (f.status, f.accepted_reason, f.accepted_at, f.accepted_evidence, f.note)


def _audits(f: Finding) -> int:
    return AuditEventRow.objects.filter(table_name="dbhealth_finding", row_pk=str(f.pk)).count()


@pytest.fixture(autouse=True)
def _no_sync(_fresh_cache):
    """The page syncs findings once per TTL (resolving these made-up ones): mark it done."""
    safe_cache.set(selectors.cache_key("findings-synced"), 1, 300)


@pytest.fixture
def operator_with(client, django_user_model):
    def make(*codenames: str):
        user = django_user_model.objects.create_user("acceptor", password="x", is_staff=True)
        user.groups.add(Group.objects.get(name="Database operators"))
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="dbhealth", codename__in=codenames)
        )
        client.force_login(user)
        return user

    return make


def test_operators_group_cannot_accept(client, operator_with):
    operator_with()  # the group alone: view-only
    assert not Group.objects.filter(
        name="Database operators", permissions__codename="accept_finding"
    ).exists()
    f = _finding()
    before = _state(f)
    r = client.post(page_url(f"findings/{f.pk}/accept"), {"reason": "known"})
    assert r.status_code == 403 and _state(f) == before and _audits(f) == 0
    html = client.get(page_url("findings")).content.decode()
    assert 'value="Accept"' not in html and f"findings/{f.pk}/accept/" not in html


def test_manage_finding_alone_does_not_accept(client, operator_with):
    operator_with("manage_finding")
    f = _finding()
    before = _state(f)
    assert client.post(page_url(f"findings/{f.pk}/accept"), {"reason": "x"}).status_code == 403
    assert _state(f) == before


def test_get_does_not_accept(client, operator_with):
    operator_with("accept_finding")
    f = _finding()
    before = _state(f)
    r = client.get(page_url(f"findings/{f.pk}/accept") + "?reason=known")
    assert r.status_code == 405 and _state(f) == before and _audits(f) == 0


@pytest.mark.parametrize(
    "reason, message",
    [
        ("", "needs a reason"),
        ("   \n ", "needs a reason"),
        ("x" * (services.ACCEPT_REASON_MAX_LENGTH + 1), "longer than 500 characters"),
        ("known\x00", "NUL character"),
    ],
)
def test_bad_reason_is_refused_with_a_message(client, operator_with, reason, message):
    operator_with("accept_finding")
    f = _finding()
    before = _state(f)
    r = client.post(page_url(f"findings/{f.pk}/accept"), {"reason": reason}, follow=True)
    assert r.status_code == 200
    shown = [str(m) for m in r.context["messages"]]
    assert any(message in m and "nothing was changed" in m for m in shown), shown
    assert _state(f) == before and _audits(f) == 0


def test_service_refuses_a_lone_surrogate():
    # HTTP bodies arrive decoded with U+FFFD; the command hands the service raw str.
    f = _finding()
    with pytest.raises(ValueError, match="lone surrogate"):
        services.finding_accept(finding=f, user_id=None, reason="known \ud800")
    assert _state(f)[0] == FindingStatus.OPEN and _audits(f) == 0


def test_missing_finding_is_404(client, operator_with):
    operator_with("accept_finding")
    assert client.post(page_url("findings/999999999/accept"), {"reason": "x"}).status_code == 404


def test_accept_changes_state_audits_and_shows_who_when_why(client, operator_with):
    user = operator_with("accept_finding")
    f = _finding()
    r = client.post(
        page_url(f"findings/{f.pk}/accept"),
        {"reason": "  used by the yearly report  "},
    )
    assert r.status_code == 302 and r["Location"].endswith("/findings/?show=all")
    f.refresh_from_db()
    assert f.status == FindingStatus.ACCEPTED and f.accepted_reason == "used by the yearly report"
    assert f.resolved_by == user and f.accepted_at is not None
    assert f.accepted_evidence == {"size_bytes": 8192, "idx_scan": 0, "_severity": "warning"}
    row = AuditEventRow.objects.get(table_name="dbhealth_finding", row_pk=str(f.pk))
    assert row.action == "ACTION" and row.actor_id == user.pk
    assert row.changes["action"] == "dbhealth.finding_accept"
    assert row.changes["reason"] == "used by the yearly report"
    assert row.changes["key"] == f.key and row.changes["previous_status"] == "open"

    open_html = client.get(page_url("findings")).content.decode()
    assert f'data-key="{f.key}"' not in open_html  # out of the open list
    html = client.get(page_url("findings") + "?show=all").content.decode()
    row_html = html.split(f'data-key="{f.key}"', 1)[1].split('dbh-finding" data-key=', 1)[0]
    assert "accepted" in row_html and "acceptor" in row_html
    assert "used by the yearly report" in row_html
    assert f"{timezone.localtime(f.accepted_at):%Y-%m-%d %H:%M}" in row_html
    assert 'value="Accept"' not in row_html  # already accepted

    # A second accept of an accepted finding is refused: the baseline stays as accepted.
    before = _state(f)
    r = client.post(page_url(f"findings/{f.pk}/accept"), {"reason": "again"}, follow=True)
    assert any("Only an open or snoozed" in str(m) for m in r.context["messages"])
    assert _state(f) == before and _audits(f) == 1


def test_command_accept_is_audited_without_an_actor():
    from django.core.management import call_command

    f = _finding()
    call_command("dbhealth", "--accept", f.key, "--reason", "known")
    row = AuditEventRow.objects.get(table_name="dbhealth_finding", row_pk=str(f.pk))
    assert row.actor_id is None and row.changes["reason"] == "known"


def _statements(client, url: str) -> int:
    """Statements one request sent, on every alias this test may use."""
    contexts = [CaptureQueriesContext(connections[alias]) for alias in DATABASES]
    for c in contexts:
        c.__enter__()
    try:
        assert client.get(url).status_code == 200
    finally:
        for c in reversed(contexts):
            c.__exit__(None, None, None)
    return sum(len(c.captured_queries) for c in contexts)


def test_findings_page_queries_do_not_grow_with_findings(client, operator_with, django_user_model):
    operator_with("accept_finding", "manage_finding")
    for i in range(3):
        _finding(key=f"index.unused:public.few_{i}")
    few_open = _statements(client, page_url("findings"))
    few_all = _statements(client, page_url("findings") + "?show=all")
    # Many more, half of them accepted, each by a different user (the "who" of the row).
    for i in range(60):
        f = _finding(key=f"index.unused:public.many_{i}")
        if i % 2:
            actor = django_user_model.objects.create_user(f"dba{i}", is_staff=True)
            services.finding_accept(finding=f, user_id=actor.pk, reason=f"reason {i}")
    assert _statements(client, page_url("findings")) == few_open
    assert _statements(client, page_url("findings") + "?show=all") == few_all
    assert few_all <= 12, few_all  # measured: 9
