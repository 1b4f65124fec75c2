from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.services import require_choice, validated_save

from .models import Template, TemplateType


@transaction.atomic
def template_save(
    *,
    name: str,
    type: str,
    content: dict[str, Any],
    version: str = "1.0.0",
    category: str = "",
    description: str = "",
    tags: list[str] | None = None,
    created_by: str = "",
    is_active: bool = True,
) -> Template:
    """Create or update the template (name, type, version)."""
    require_choice(type, TemplateType, what=f"Template {name!r}: type")
    if not isinstance(content, dict):
        raise ValidationError(f"Template {name!r}: content must be a JSON object")
    template = (
        Template.objects.select_for_update().filter(name=name, type=type, version=version).first()
    ) or Template(name=name, type=type, version=version)
    template.category = category
    template.description = description
    template.content = content
    template.tags = list(tags or [])
    template.created_by = created_by or template.created_by
    template.is_active = is_active
    return validated_save(template, label=f"Template {name!r} ({type} {version})")


def template_get(*, name: str, type: str, version: str | None = None) -> Template:
    """The named version, or the newest active one (by creation)."""
    qs = Template.objects.filter(name=name, type=type)
    qs = qs.filter(version=version) if version else qs.filter(is_active=True)
    template = qs.order_by("-created_at", "-id").first()
    if template is None:
        wanted = f" version {version}" if version else " (active)"
        raise Template.DoesNotExist(f"No template {name!r} of type {type!r}{wanted}")
    return template


def template_record_use(*, template_id: int, succeeded: bool | None = None) -> None:
    """Count one use (and its outcome) with a single atomic UPDATE; never read-modify-write."""
    changes: dict[str, Any] = {"usage_count": F("usage_count") + 1, "last_used_at": timezone.now()}
    if succeeded is True:
        changes["success_count"] = F("success_count") + 1
    elif succeeded is False:
        changes["failure_count"] = F("failure_count") + 1
    if not Template.objects.filter(pk=template_id).update(**changes):
        raise Template.DoesNotExist(f"No template with id {template_id}")
