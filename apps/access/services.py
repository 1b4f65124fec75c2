"""Writes of project memberships."""

from __future__ import annotations

from django.db import transaction

from apps.core.services import validated_save

from .models import ProjectMembership, ProjectRole


@transaction.atomic
def membership_set(
    *, project_id: int, user_id: int, role: str = ProjectRole.VIEWER
) -> ProjectMembership:
    """Make a user a member of a project with `role` (or change their role)."""
    membership = ProjectMembership.objects.filter(project_id=project_id, user_id=user_id).first()
    if membership is None:
        membership = ProjectMembership(project_id=project_id, user_id=user_id)
    membership.role = role
    validated_save(membership)
    return membership


@transaction.atomic
def membership_remove(*, project_id: int, user_id: int) -> int:
    deleted, _ = ProjectMembership.objects.filter(project_id=project_id, user_id=user_id).delete()
    return deleted
