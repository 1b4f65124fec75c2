from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.services import require_choice, validated_save

from .models import (
    CommunicationStatus,
    Component,
    ComponentCommunication,
    ComponentType,
    HealthStatus,
    LearningData,
    Outcome,
    SystemHealth,
)


def _component(name: str) -> Component:
    try:
        return Component.objects.get(name=name)
    except Component.DoesNotExist:
        raise ValidationError(f"Unknown component {name!r}; register it first") from None


@transaction.atomic
def component_register(
    *,
    name: str,
    type: str,
    version: str = "",
    capabilities: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
) -> Component:
    """Create or update a component by name and mark it alive."""
    require_choice(type, ComponentType, what=f"Component {name!r}: type")
    component = Component.objects.select_for_update().filter(name=name).first() or Component(
        name=name
    )
    component.type = type
    component.version = version
    component.capabilities = capabilities or {}
    component.configuration = configuration or component.configuration or {}
    component.last_heartbeat = timezone.now()
    return validated_save(component, label=f"Component {name!r}")


@transaction.atomic
def system_health_update(
    *,
    component_name: str,
    status: str,
    cpu_usage: float | None = None,
    memory_usage: float | None = None,
    disk_usage: float | None = None,
    response_time_ms: float | None = None,
    error_rate: float | None = None,
    details: dict[str, Any] | None = None,
    recorded_at: datetime | None = None,
) -> SystemHealth:
    """Record a health sample and carry its status onto the component."""
    require_choice(status, HealthStatus, what=f"Health of {component_name!r}: status")
    component = _component(component_name)
    sample = validated_save(
        SystemHealth(
            component=component,
            status=status,
            cpu_usage=cpu_usage,
            memory_usage=memory_usage,
            disk_usage=disk_usage,
            response_time_ms=response_time_ms,
            error_rate=error_rate,
            details=details or {},
            recorded_at=recorded_at or timezone.now(),
        ),
        label=f"Health sample of {component_name!r}",
    )
    Component.objects.filter(pk=component.pk).update(
        health_status=status, last_heartbeat=sample.recorded_at
    )
    return sample


@transaction.atomic
def communication_record(
    *,
    source: str,
    target: str,
    message_type: str,
    payload: dict[str, Any] | None = None,
    status: str = CommunicationStatus.SENT,
    retry_count: int = 0,
    timeout_ms: int = 30_000,
    response: dict[str, Any] | None = None,
) -> ComponentCommunication:
    require_choice(status, CommunicationStatus, what=f"Message {message_type!r}: status")
    now = timezone.now()
    return validated_save(
        ComponentCommunication(
            source=_component(source),
            target=_component(target),
            message_type=message_type,
            payload=payload or {},
            status=status,
            retry_count=retry_count,
            timeout_ms=timeout_ms,
            response=response,
            sent_at=now if status != CommunicationStatus.PENDING else None,
            responded_at=now if response is not None else None,
        ),
        label=f"Message {message_type!r} {source}->{target}",
    )


@transaction.atomic
def learning_record(
    *,
    pattern_type: str,
    outcome: str,
    confidence: float,
    context: dict[str, Any] | None = None,
    effectiveness: float | None = None,
    component_name: str | None = None,
) -> LearningData:
    require_choice(outcome, Outcome, what=f"Learning {pattern_type!r}: outcome")
    return validated_save(
        LearningData(
            pattern_type=pattern_type,
            outcome=outcome,
            confidence=confidence,
            effectiveness=effectiveness,
            context=context or {},
            component=_component(component_name) if component_name else None,
        ),
        label=f"Learning record {pattern_type!r}",
    )
