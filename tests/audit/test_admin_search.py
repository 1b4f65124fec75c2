"""The audit list's search: a number is an audit event id and an audited row's key."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.audit.admin import audited_tables
from tests.factories.audit import AuditEventFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:audit_auditeventrow_changelist")


def _found(admin_client, term: str) -> set[int]:
    response = admin_client.get(URL, {"q": term})
    assert response.status_code == 200
    return {row.id for row in response.context["cl"].result_list}


def test_numeric_search_finds_the_audited_row_and_the_event_id(admin_client):
    row_event = AuditEventFactory(table_name="tasks_task", row_pk="7001")
    other = AuditEventFactory(table_name="tasks_task", row_pk="7002")
    assert _found(admin_client, "7001") == {row_event.id}
    assert other.id in _found(admin_client, str(other.id))


def test_row_key_search_names_every_audited_table_so_the_index_applies(admin_client):
    tables = audited_tables()
    assert {"tasks_task", "knowledge_article", "workflows_workflow"} <= set(tables)
    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(URL, {"q": "7001"})
    page = [q["sql"] for q in ctx.captured_queries if "audit_auditevent" in q["sql"]]
    assert any('"table_name" IN (' in sql and "row_pk" in sql for sql in page), page


def test_text_search_stays_exact(admin_client):
    event = AuditEventFactory(table_name="tasks_task", row_pk="abc-1", request_id="req-9")
    assert _found(admin_client, "req-9") == {event.id}
    assert _found(admin_client, "abc-1") == {event.id}
    assert _found(admin_client, "abc") == set()


def test_text_search_probes_the_row_key_and_request_id_indexes(admin_client):
    with CaptureQueriesContext(connection) as ctx:
        admin_client.get(URL, {"q": "req-9"})
    page = [q["sql"] for q in ctx.captured_queries if "audit_auditevent" in q["sql"]]
    assert any('"table_name" IN (' in sql and '"request_id" = ' in sql for sql in page), page


def test_text_search_reaches_every_arm_through_an_index(rf, admin_user):
    from django.contrib import admin

    from apps.audit.models import AuditEventRow
    from tests.db import plan_with_seqscan_off

    request = rf.get(URL, {"q": "req-9"})
    request.user = admin_user
    model_admin = admin.site._registry[AuditEventRow]
    found, _ = model_admin.get_search_results(request, AuditEventRow.objects.all(), "req-9")
    plan = plan_with_seqscan_off(found)
    assert "_table_name_row_pk_created_at_idx " in plan, plan  # each partition's copy of the index
    assert "_request_id_created_at_idx " in plan, plan
