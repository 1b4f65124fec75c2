from datetime import UTC, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit import request_context
from apps.audit.models import AuditEvent
from apps.audit.services import audit_action_record
from tests.factories.audit import AuditEventFactory

pytestmark = pytest.mark.django_db


def _raw_insert() -> tuple:
    """What the capture triggers do: name neither created_at, id, changes nor request_id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (table_name, row_pk, action)"
            " VALUES ('tasks_task', '42', 'UPDATE')"
            " RETURNING created_at, id, changes = '{}'::jsonb, request_id, actor_id, txid,"
            " tableoid::regclass::text, now()"
        )
        return cursor.fetchone()


def test_database_defaults_fill_what_raw_sql_triggers_leave_out():
    created_at, id_, empty_changes, request_id, actor_id, txid, partition, tx_now = _raw_insert()
    assert created_at == tx_now  # DEFAULT now(): the transaction's timestamp
    assert id_ > 0 and empty_changes is True and request_id == ""
    assert actor_id is None and txid is None
    assert partition == f"audit_auditevent_p{timezone.now().astimezone(UTC):%Y%m}"
    second = _raw_insert()
    assert second[1] > id_  # identity


def test_action_check_constraint():
    with pytest.raises(IntegrityError, match="auditevent_action_valid"), transaction.atomic():
        AuditEventFactory(action="TRUNCATE")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET row_pk = 'x'",
        "DELETE FROM audit_auditevent",
        "UPDATE audit_auditevent_p{month} SET changes = '{{}}'",  # a partition directly
    ],
)
@pytest.mark.django_db(databases=["default", "owner"])
def test_audit_rows_are_append_only_even_for_raw_sql(sql):
    # The app may not even try (no UPDATE/DELETE grant: tests/security/test_roles.py); the guard
    # holds for a writer that has the privileges, the owner.
    AuditEventFactory.build().save(using="owner", force_insert=True)
    month = f"{timezone.now().astimezone(UTC):%Y%m}"
    refused = pytest.raises(IntegrityError, match="audit_auditevent is append-only")
    owner = connections["owner"]
    with refused, transaction.atomic(using="owner"), owner.cursor() as cursor:
        cursor.execute(sql.format(month=month))
    assert AuditEvent.objects.using("owner").count() == 1


@pytest.mark.django_db(databases=["default", "owner"])
def test_audit_rows_are_append_only_through_the_orm():
    # Through the owner, who has UPDATE/DELETE (the app has neither): the guard still refuses.
    event = AuditEventFactory.build()
    event.save(using="owner", force_insert=True)
    events = AuditEvent.objects.using("owner")
    with pytest.raises(IntegrityError, match="UPDATE refused"), transaction.atomic(using="owner"):
        events.filter(pk=event.pk).update(row_pk="x")
    with pytest.raises(IntegrityError, match="DELETE refused"), transaction.atomic(using="owner"):
        events.filter(pk=event.pk).delete()
    assert events.get(pk=event.pk).row_pk == event.row_pk


def test_audit_action_record_writes_an_action_row(django_user_model):
    user = django_user_model.objects.create(username="ops")
    audit_action_record(
        action_name="cancel",
        target="workflows_workflow",
        target_pk=17,
        details={"reason": "stuck", "previous_status": "active"},
        actor_id=user.id,
        request_id="req-1",
    )
    event = AuditEvent.objects.get()
    assert (event.action, event.table_name, event.row_pk) == ("ACTION", "workflows_workflow", "17")
    assert event.changes == {"action": "cancel", "reason": "stuck", "previous_status": "active"}
    assert (event.actor_id, event.request_id) == (user.id, "req-1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        assert event.txid == cursor.fetchone()[0]
    assert abs(event.created_at - timezone.now()) < timedelta(minutes=1)


def test_audit_action_record_takes_the_bound_request_id():
    with request_context.bind(user_id=None, request_id="from-middleware"):
        audit_action_record(
            action_name="terminate", target="tasks_task", target_pk="3", details={}, actor_id=None
        )
    assert AuditEvent.objects.get().request_id == "from-middleware"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action_name": ""}, "action_name is required"),
        ({"target": "t" * 101}, "target is 101 characters long"),
        ({"target_pk": ""}, "target_pk is required"),
        ({"details": None}, "details must be a JSON object"),
        ({"details": {"obj": object()}}, "details is not JSON-serializable"),
        ({"actor_id": "admin"}, "actor_id must be a positive integer"),
    ],
)
def test_audit_action_record_refuses_bad_input_and_writes_nothing(kwargs, message):
    arguments = {
        "action_name": "cancel",
        "target": "tasks_task",
        "target_pk": "1",
        "details": {},
        "actor_id": None,
        **kwargs,
    }
    with pytest.raises(ValidationError, match=message):
        audit_action_record(**arguments)
    assert not AuditEvent.objects.exists()


def test_admin_changelist_is_bounded(admin_client, admin_user, django_assert_max_num_queries):
    for n in range(20):
        audit_action_record(
            action_name="cancel",
            target="tasks_task",
            target_pk=str(n),
            details={},
            actor_id=admin_user.id,
        )
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("admin:audit_auditeventrow_changelist"))
    assert response.status_code == 200
    assert response.content.decode().count(">tasks_task<") == 20
