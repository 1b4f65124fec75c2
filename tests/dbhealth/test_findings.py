"""Findings: stable keys, no duplicates, auto-resolve, reopen, snooze; resolve/snooze from the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.dbhealth import services
from apps.dbhealth.models import Finding

from .conftest import page_url
from .helpers import dbhealth_json

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])

PREFIXES = ("index.",)


def cand(key="index.unused:public.x", severity="info", title="Unused index x"):
    return {
        "key": key,
        "kind": key.split(":")[0],
        "severity": severity,
        "object_name": "public.x",
        "title": title,
    }


def test_sync_upserts_by_key_without_duplicates():
    services.findings_sync(candidates=[cand()], kind_prefixes=PREFIXES)
    first = Finding.objects.get()
    services.findings_sync(
        candidates=[cand(severity="warning", title="Unused index x (bigger)")],
        kind_prefixes=PREFIXES,
    )
    f = Finding.objects.get()
    assert f.pk == first.pk and f.severity == "warning" and f.title.endswith("(bigger)")
    assert f.first_seen == first.first_seen and f.last_seen > first.last_seen


def test_auto_resolve_and_reopen_when_condition_returns():
    services.findings_sync(candidates=[cand()], kind_prefixes=PREFIXES)
    stats = services.findings_sync(candidates=[], kind_prefixes=PREFIXES)
    f = Finding.objects.get()
    assert stats["resolved"] == 1 and f.status == "resolved" and "auto-resolved" in f.note
    stats = services.findings_sync(candidates=[cand()], kind_prefixes=PREFIXES)
    f.refresh_from_db()
    assert (
        stats["reopened"] == 1
        and f.status == "open"
        and f.reopened_count == 1
        and f.resolved_at is None
    )
    assert Finding.objects.count() == 1


def test_sync_only_resolves_kinds_it_looked_at():
    services.findings_sync(candidates=[cand()], kind_prefixes=PREFIXES)
    services.findings_sync(candidates=[], kind_prefixes=("quality.",))
    assert Finding.objects.get().status == "open"


def test_snooze_hides_until_the_date_then_reopens(superuser):
    services.findings_sync(candidates=[cand()], kind_prefixes=PREFIXES)
    f = Finding.objects.get()
    services.finding_snooze(
        finding=f, user_id=superuser.pk, until=timezone.now() + timedelta(days=1), note="later"
    )
    services.findings_sync(candidates=[cand()], kind_prefixes=PREFIXES)
    f.refresh_from_db()
    assert f.status == "snoozed"
    Finding.objects.filter(pk=f.pk).update(snoozed_until=timezone.now() - timedelta(seconds=1))
    services.findings_sync(candidates=[cand()], kind_prefixes=PREFIXES)
    f.refresh_from_db()
    assert f.status == "open" and f.snoozed_until is None


def test_resolve_and_snooze_from_the_page_record_who_when_note(admin_client_dbh, superuser):
    services.findings_sync(
        candidates=[cand(), cand(key="index.unused:public.y")], kind_prefixes=PREFIXES
    )
    x, y = Finding.objects.order_by("key")
    r = admin_client_dbh.post(page_url(f"findings/{x.pk}/resolve"), {"note": "dropped it"})
    assert r.status_code == 302
    x.refresh_from_db()
    assert (
        x.status == "resolved"
        and x.resolved_by == superuser
        and x.resolved_at
        and "dropped it" in x.note
    )
    admin_client_dbh.post(
        page_url(f"findings/{y.pk}/snooze"), {"days": "7", "note": "replica uses it"}
    )
    y.refresh_from_db()
    assert y.status == "snoozed" and y.snoozed_until > timezone.now() + timedelta(days=6)
    assert "replica uses it" in y.note


def test_findings_page_ranks_by_severity(scratch, admin_client_dbh):
    html = admin_client_dbh.get(page_url("findings") + "?refresh=1").content.decode()
    sev = [chunk.split("</td>", 1)[0] for chunk in html.split('<td class="sev-')[1:]]
    order = {"critical": 0, "warning": 1, "info": 2}
    ranks = [order[s.split('"', 1)[0]] for s in sev]
    assert ranks == sorted(ranks) and ranks[0] == 0  # the scratch schema plants criticals


def test_dbhealth_command_exit_codes(scratch):
    code, doc = dbhealth_json()
    assert code == 1 and doc["critical_open"] >= 1
    assert set(doc["sections"]) == {
        "overview", "indexes", "tables", "queries", "suggested_indexes", "activity", "matviews",
        "quality", "drift", "findings",
    }  # fmt: skip
    assert doc["sections"]["findings"]["counts"]["critical"] == doc["critical_open"]
    Finding.objects.all().delete()
    code, doc = dbhealth_json("queries")
    assert code == 0 and doc["critical_open"] == 0


def test_dbhealth_text_output(scratch, capsys):
    from django.core.management import call_command

    with pytest.raises(SystemExit):
        call_command("dbhealth")
    out = capsys.readouterr().out
    assert "[overview]" in out and "[indexes]" in out and "[findings]" in out
