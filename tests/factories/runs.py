import factory
from django.utils import timezone

from apps.runs.models import FormResponse, FormSchema, NodeExecution, RunStatus, WorkflowRun


class WorkflowRunFactory(factory.django.DjangoModelFactory):
    """Needs `workflow` (or `workflow_id`): there is no database FK, any id is accepted."""

    class Meta:
        model = WorkflowRun

    status = RunStatus.RUNNING
    trigger_data = factory.LazyFunction(lambda: {"trigger": "manual"})
    started_at = factory.LazyFunction(timezone.now)


class NodeExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NodeExecution

    class Params:
        run = None

    run_id = factory.LazyAttribute(lambda o: o.run.id)
    run_started_at = factory.LazyAttribute(lambda o: o.run.started_at)
    node_id = factory.Sequence(lambda n: f"node-{n}")
    node_type = "http_request"
    started_at = factory.LazyAttribute(lambda o: o.run.started_at)


class FormSchemaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FormSchema

    name = factory.Sequence(lambda n: f"intake-{n}")
    version = 1
    schema = factory.LazyFunction(lambda: {"fields": [{"name": "email", "type": "string"}]})


class FormResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FormResponse

    form_schema = factory.SubFactory(FormSchemaFactory)
    data = factory.LazyFunction(lambda: {"email": "dev@example.com"})
    metadata = factory.LazyFunction(lambda: {"source": "test"})
    submitted_at = factory.LazyFunction(timezone.now)
