from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from apps.runs.models import FormResponse, FormSchema, NodeExecution, WorkflowRun
from apps.runs.selectors import node_execution_list, workflow_run_list
from apps.runs.services import (
    form_response_submit,
    form_schema_publish,
    node_execution_record,
    workflow_run_finish,
    workflow_run_start,
)
from tests.factories.domain import WorkflowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    return workflow_run_start(workflow_id=WorkflowFactory().id, trigger_data={"by": "webhook"})


def test_run_lifecycle_with_nodes(run):
    assert run.status == "running" and run.id and run.started_at
    start = timezone.now()
    node = node_execution_record(
        run=run,
        node_id="fetch",
        node_type="http_request",
        status="succeeded",
        input={"url": "https://example.com"},
        output={"status": 200},
        started_at=start,
        completed_at=start + timedelta(milliseconds=250),
    )
    assert node.duration_ms == 250
    finished = workflow_run_finish(run=run, status="succeeded")
    stored = WorkflowRun.objects.get(pk=(run.started_at, run.id))
    assert (stored.status, stored.duration_ms) == ("succeeded", finished.duration_ms)
    assert list(node_execution_list(run=run)) == [NodeExecution.objects.get()]
    assert list(workflow_run_list(workflow_id=run.workflow_id, since=run.started_at)) == [stored]


def test_run_start_refuses_an_unknown_workflow():
    with pytest.raises(ValidationError, match="workflow 999999 does not exist"):
        workflow_run_start(workflow_id=999999)
    assert not WorkflowRun.objects.exists()


def test_run_finish_refuses_a_non_final_status_and_a_second_finish(run):
    with pytest.raises(ValidationError, match="final status must be one of"):
        workflow_run_finish(run=run, status="running")
    workflow_run_finish(run=run, status="failed", error="boom")
    with pytest.raises(ValidationError, match="not pending or running"):
        workflow_run_finish(run=run, status="succeeded")
    assert WorkflowRun.objects.get(pk=(run.started_at, run.id)).error == "boom"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "done"}, "status 'done' is not one of"),
        ({"node_id": ""}, "node_id is required"),
        ({"input": [1]}, "input must be a JSON object"),
        ({"started_at": timezone.now() - timedelta(days=1)}, "cannot start before its run"),
    ],
)
def test_node_execution_record_refuses_bad_input(run, kwargs, message):
    arguments = {"run": run, "node_id": "n", "node_type": "t", "status": "running", **kwargs}
    with pytest.raises(ValidationError, match=message):
        node_execution_record(**arguments)
    assert not NodeExecution.objects.exists()


def test_form_schema_versions_and_responses(run):
    first = form_schema_publish(name="intake", schema={"fields": []})
    second = form_schema_publish(name="intake", schema={"fields": [{"name": "email"}]})
    assert (first.version, second.version) == (1, 2)
    response = form_response_submit(form_schema=second, data={"email": "a@b.c"}, run=run)
    stored = FormResponse.objects.get(pk=(response.submitted_at, response.id))
    assert (stored.workflow_run_id, stored.workflow_run_started_at) == (run.id, run.started_at)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs_formresponse WHERE data ? 'email'")
        assert cursor.fetchone()[0] == 1


def test_form_services_refuse_bad_input():
    with pytest.raises(ValidationError, match="schema must be a JSON object"):
        form_schema_publish(name="intake", schema=None)
    assert not FormSchema.objects.exists()
    schema = form_schema_publish(name="intake", schema={})
    with pytest.raises(ValidationError, match="data must be a JSON object"):
        form_response_submit(form_schema=schema, data="email=a@b.c")
    assert not FormResponse.objects.exists()


def test_node_execution_list_prunes_partitions_older_than_the_run(run):
    from apps.pg.partitioning import partition_list

    plan = node_execution_list(run=run).explain()
    current = f"runs_nodeexecution_p{run.started_at:%Y%m}"
    previous = f"runs_nodeexecution_p{run.started_at.replace(day=1) - timedelta(days=1):%Y%m}"
    assert previous in {p.name for p in partition_list("runs_nodeexecution")}
    assert current in plan and previous not in plan
