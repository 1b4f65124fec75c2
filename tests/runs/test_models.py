from datetime import UTC, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from apps.runs.models import FormResponse, NodeExecution, WorkflowRun
from tests.factories.domain import WorkflowFactory
from tests.factories.runs import (
    FormResponseFactory,
    FormSchemaFactory,
    NodeExecutionFactory,
    WorkflowRunFactory,
)

pytestmark = pytest.mark.django_db


def _partition(table: str, id_: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [id_])
        return cursor.fetchone()[0]


def test_runs_nodes_and_responses_route_to_their_month_partition():
    now = timezone.now()
    month = f"p{now.astimezone(UTC):%Y%m}"
    run = WorkflowRunFactory(workflow=WorkflowFactory())
    node = NodeExecutionFactory(run=run)
    response = FormResponseFactory(workflow_run_id=run.id, workflow_run_started_at=run.started_at)
    assert _partition("runs_workflowrun", run.id) == f"runs_workflowrun_{month}"
    assert _partition("runs_nodeexecution", node.id) == f"runs_nodeexecution_{month}"
    assert _partition("runs_formresponse", response.id) == f"runs_formresponse_{month}"


def test_identity_and_partition_key_defaults_come_from_the_database():
    workflow = WorkflowFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO runs_workflowrun (workflow_id, status, trigger_data, error)"
            " VALUES (%s, 'pending', '{}', '') RETURNING id, started_at",
            [workflow.id],
        )
        run_id, started_at = cursor.fetchone()
    assert run_id > 0 and abs(started_at - timezone.now()) < timedelta(minutes=1)
    assert WorkflowRun.objects.get(pk=(started_at, run_id)).workflow == workflow


def test_node_executions_of_a_run_by_value_reference():
    run = WorkflowRunFactory(workflow=WorkflowFactory())
    NodeExecutionFactory.create_batch(3, run=run)
    NodeExecutionFactory(run=WorkflowRunFactory(workflow=run.workflow))
    nodes = NodeExecution.objects.filter(
        run_id=run.id, run_started_at=run.started_at, started_at__gte=run.started_at
    )
    assert nodes.count() == 3


@pytest.mark.parametrize(
    ("factory", "kwargs", "constraint"),
    [
        (WorkflowRunFactory, {"status": "exploded"}, "workflowrun_status_valid"),
        (WorkflowRunFactory, {"duration_ms": -1}, "workflowrun_duration_non_negative"),
        (
            WorkflowRunFactory,
            {"completed_at": timezone.now() - timedelta(days=1)},
            "workflowrun_completed_after_started",
        ),
        (FormResponseFactory, {"workflow_run_id": 5}, "formresponse_run_ref_complete"),
    ],
)
def test_check_constraints(factory, kwargs, constraint):
    if factory is WorkflowRunFactory:
        kwargs = {"workflow_id": 1, **kwargs}
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        factory(**kwargs)


def test_node_cannot_start_before_its_run():
    run = WorkflowRunFactory(workflow_id=1)
    refused = pytest.raises(IntegrityError, match="nodeexecution_started_after_run")
    with refused, transaction.atomic():
        NodeExecutionFactory(run=run, started_at=run.started_at - timedelta(seconds=1))


def test_form_schema_versions_are_unique_per_name_and_protected_by_responses():
    schema = FormSchemaFactory(name="intake", version=1)
    FormSchemaFactory(name="intake", version=2)
    duplicate = pytest.raises(IntegrityError, match="formschema_name_version_unique")
    with duplicate, transaction.atomic():
        FormSchemaFactory(name="intake", version=1)
    FormResponseFactory(form_schema=schema)
    protected = pytest.raises(IntegrityError, match="runs_formresponse")
    with protected, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's FKs are DEFERRABLE
        cursor.execute("DELETE FROM runs_formschema WHERE id = %s", [schema.id])


def test_form_response_data_is_searchable_by_containment():
    FormResponseFactory(data={"email": "a@example.com", "plan": "pro"})
    FormResponseFactory(data={"email": "b@example.com", "plan": "free"})
    assert FormResponse.objects.filter(data__contains={"plan": "pro"}).count() == 1
    assert FormResponse.objects.filter(data__has_key="email").count() == 2


@pytest.mark.parametrize(
    "name", ["workflowrunrow", "nodeexecutionrow", "formresponserow", "formschema"]
)
def test_admin_changelists_are_bounded(admin_client, django_assert_max_num_queries, name):
    runs = [WorkflowRunFactory(workflow=WorkflowFactory()) for _ in range(5)]
    for run in runs:
        NodeExecutionFactory(run=run)
        FormResponseFactory(workflow_run_id=run.id, workflow_run_started_at=run.started_at)
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse(f"admin:runs_{name}_changelist"))
    assert response.status_code == 200
