"""X-Request-ID comes from the client: only a plain token of at most 64 characters is kept (it
lands in audit_auditevent.request_id, varchar(64)); anything else is replaced by a new id."""

from __future__ import annotations

import pytest

from apps.audit.middleware import clean_request_id
from apps.audit.models import AuditEvent
from tests.factories import domain as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "header", ["abc-123", "0f" * 16, "Root=1-5759e988-bd862e3fe1be46a994272793", "r" * 64]
)
def test_plain_ids_are_kept(header):
    assert clean_request_id(header) == header


@pytest.mark.parametrize(
    "header",
    [
        "r" * 65,
        "x" * 10_240,
        "abc\r\nSet-Cookie: a=b",
        "' OR 1=1 --",
        "²²²",
        "\x00",
        "",
        None,
        "a b",
    ],
)
def test_hostile_ids_are_replaced(header):
    replaced = clean_request_id(header)
    assert replaced != header and len(replaced) == 32 and replaced.isalnum()


@pytest.mark.parametrize("header", ["r" * 65, "x" * 10_240, "abc\r\nX: y", "\x00", "²"])
def test_an_audited_admin_save_with_a_hostile_id_succeeds_with_a_fresh_id(admin_client, header):
    project = f.ProjectFactory()
    response = admin_client.post(
        f"/admin/projects/project/{project.pk}/change/",
        {
            "name": "Renamed",
            "slug": project.slug,
            "repository_url": project.repository_url,
            "status": project.status,
            "settings": "{}",
        },
        HTTP_X_REQUEST_ID=header,
    )
    assert response.status_code == 302, response.content[:2000]
    used = response["X-Request-ID"]
    assert used != header and len(used) == 32
    event = (
        AuditEvent.objects.filter(table_name="projects_project", row_pk=str(project.pk))
        .order_by("-id")
        .first()
    )
    assert event.request_id == used


def test_a_valid_id_reaches_the_audit_row(admin_client):
    project = f.ProjectFactory()
    admin_client.post(
        f"/admin/projects/project/{project.pk}/change/",
        {
            "name": "Again",
            "slug": project.slug,
            "repository_url": project.repository_url,
            "status": project.status,
            "settings": "{}",
        },
        HTTP_X_REQUEST_ID="trace-42",
    )
    event = (
        AuditEvent.objects.filter(table_name="projects_project", row_pk=str(project.pk))
        .order_by("-id")
        .first()
    )
    assert event.request_id == "trace-42"
