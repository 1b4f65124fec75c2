import pytest
from django.core.exceptions import ValidationError

from apps.components.models import Component, ComponentCommunication, LearningData, SystemHealth
from apps.components.services import (
    communication_record,
    component_register,
    learning_record,
    system_health_update,
)

pytestmark = pytest.mark.django_db


def test_component_register_is_an_upsert_by_name():
    first = component_register(name="codegen-generator", type="generator", version="1.0")
    again = component_register(
        name="codegen-generator", type="generator", version="1.1", capabilities={"lang": ["py"]}
    )
    assert first.pk == again.pk
    component = Component.objects.get()
    assert (component.version, component.capabilities) == ("1.1", {"lang": ["py"]})
    assert component.last_heartbeat is not None


def test_component_register_bad_type_writes_nothing():
    with pytest.raises(ValidationError, match="type"):
        component_register(name="x", type="toaster")
    assert not Component.objects.exists()


def test_system_health_update_records_sample_and_carries_status():
    component_register(name="codegen-generator", type="generator")
    system_health_update(
        component_name="codegen-generator",
        status="degraded",
        cpu_usage=25.3,
        memory_usage=28.7,
        response_time_ms=95,
        error_rate=0.2,
    )
    assert SystemHealth.objects.get().cpu_usage == 25.3
    assert Component.objects.get().health_status == "degraded"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"component_name": "ghost", "status": "healthy"}, "Unknown component 'ghost'"),
        ({"component_name": "c", "status": "healthy", "cpu_usage": 140}, "cpu_usage"),
        ({"component_name": "c", "status": "fine"}, "status"),
    ],
)
def test_system_health_update_bad_input_writes_nothing(kwargs, message):
    component_register(name="c", type="service")
    with pytest.raises(ValidationError, match=message):
        system_health_update(**kwargs)
    assert not SystemHealth.objects.exists()
    assert Component.objects.get().health_status == "unknown"


def test_communication_record_links_components():
    component_register(name="a", type="service")
    component_register(name="b", type="validator")
    message = communication_record(
        source="a", target="b", message_type="validate", payload={"files": 5}, response={"ok": True}
    )
    assert message.sent_at and message.responded_at
    with pytest.raises(ValidationError, match="Unknown component 'zzz'"):
        communication_record(source="a", target="zzz", message_type="validate")
    assert ComponentCommunication.objects.count() == 1


def test_learning_record_checks_confidence_range():
    learning_record(pattern_type="retry", outcome="success", confidence=0.9)
    with pytest.raises(ValidationError, match="confidence"):
        learning_record(pattern_type="retry", outcome="success", confidence=1.5)
    assert LearningData.objects.count() == 1
