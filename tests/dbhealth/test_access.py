"""Anonymous → login redirect; staff without permission → 403 on every page and action;
"Database operators" see pages but cannot act; each action needs its own permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from apps.dbhealth.models import DataQualityCheck, Finding

from .conftest import PAGES, page_url

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])

ACTIONS = [
    ("activity/1/cancel", "dbhealth.cancel_backend"),
    ("activity/1/terminate", "dbhealth.terminate_backend"),
    ("matviews/refresh", "dbhealth.refresh_matview"),
    ("quality/run", "dbhealth.run_quality_checks"),
    ("findings/{finding}/resolve", "dbhealth.manage_finding"),
    ("findings/{finding}/snooze", "dbhealth.manage_finding"),
    ("findings/{finding}/accept", "dbhealth.accept_finding"),
]


@pytest.fixture
def finding():
    from django.utils import timezone

    now = timezone.now()
    return Finding.objects.create(
        key="index.unused:public.z", kind="index.unused", severity="info", object_name="z", title="z",
        first_seen=now, last_seen=now,
    )  # fmt: skip


def _all_urls(finding) -> list[str]:
    check = DataQualityCheck.objects.order_by("pk").first()
    pages = [page_url(p) for p in PAGES] + [
        page_url(f"quality/{check.pk}"),
        "/admin/dbhealth/databasehealth/",
    ]
    return pages + [page_url(a.format(finding=finding.pk)) for a, _ in ACTIONS]


def test_anonymous_is_sent_to_login(client, finding):
    for url in _all_urls(finding):
        for method in (client.get, client.post):
            r = method(url)
            assert r.status_code == 302 and "/admin/login/" in r["Location"], url


def test_staff_without_permission_gets_403(client, django_user_model, finding):
    staff = django_user_model.objects.create_user("plainstaff", password="x", is_staff=True)
    client.force_login(staff)
    for url in _all_urls(finding):
        assert client.get(url).status_code == 403, url
        assert client.post(url).status_code == 403, url
    assert b"Database health" not in client.get("/admin/").content


def test_operators_group_views_but_cannot_act(client, django_user_model, finding):
    op = django_user_model.objects.create_user("operator", password="x", is_staff=True)
    op.groups.add(Group.objects.get(name="Database operators"))
    client.force_login(op)
    for p in PAGES:
        assert client.get(page_url(p)).status_code == 200, p
    assert b"Database health" in client.get("/admin/").content
    for action, _ in ACTIONS:
        assert client.post(page_url(action.format(finding=finding.pk))).status_code == 403, action
    html = client.get(page_url("findings")).content.decode()
    assert 'value="Resolve"' not in html


@pytest.mark.parametrize("action, perm", ACTIONS)
def test_each_action_needs_its_own_permission(client, django_user_model, finding, action, perm):
    user = django_user_model.objects.create_user("actor", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Database operators"))
    app_label, codename = perm.split(".")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    client.force_login(user)
    url = page_url(action.format(finding=finding.pk))
    response = client.post(url, {"name": "no_such_view", "days": "1"})
    # Allowed through the permission gate: a redirect back (or 404 for a pid that is gone).
    assert response.status_code in (302, 404), (url, response.status_code)
    # ...and only that one: another action's permission is still missing.
    others = [a for a, p in ACTIONS if p != perm]
    assert client.post(page_url(others[0].format(finding=finding.pk))).status_code == 403
