import factory
from django.utils import timezone

from apps.events.models import Event, PerformanceMetric, Severity


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    event_type = factory.Sequence(lambda n: f"step_completed_{n}")
    severity = Severity.INFO
    source_component = "codegen-generator"
    target_component = "claude-code-validator"
    payload = factory.LazyFunction(lambda: {"files_generated": 5})
    correlation_id = factory.Sequence(lambda n: f"gen_{n}")
    created_at = factory.LazyFunction(timezone.now)


class PerformanceMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PerformanceMetric

    component = "codegen-generator"
    metric_name = "generation_time"
    value = 2.5
    unit = "seconds"
    tags = factory.LazyFunction(lambda: {"env": "test"})
    recorded_at = factory.LazyFunction(timezone.now)
