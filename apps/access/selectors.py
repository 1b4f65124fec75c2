"""Who may see which projects: the row scope of a user and their role per project."""

from __future__ import annotations

from django.conf import settings

from apps.pg.rowscope import EVERY_ROW, NO_ROWS, RowScope

from .models import ProjectMembership, ProjectRole


def unscoped_groups() -> list[str]:
    return list(getattr(settings, "ROW_SCOPE", {}).get("UNSCOPED_GROUPS", ()))


def sees_every_project(user) -> bool:
    """Superusers and the operators' groups: their bypass is their role, never a missing scope."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=unscoped_groups()).exists()


def project_roles(user) -> dict[int, str]:
    """project id -> role, for a user who does not see every project."""
    if not (user.is_authenticated and user.is_active):
        return {}
    return dict(ProjectMembership.objects.filter(user_id=user.pk).values_list("project_id", "role"))


def projects_with_role(roles: dict[int, str], at_least: str) -> frozenset[int]:
    floor = ProjectRole.rank(at_least)
    return frozenset(pid for pid, role in roles.items() if ProjectRole.rank(role) >= floor)


# The least role each admin action needs in a project.
ACTION_ROLES = {
    "view": ProjectRole.VIEWER,
    "add": ProjectRole.EDITOR,
    "change": ProjectRole.EDITOR,
    "delete": ProjectRole.MAINTAINER,
    "manage": ProjectRole.MAINTAINER,  # who is a member, and as what
}


def access_for(user) -> tuple[RowScope, dict[str, frozenset[int]] | None]:
    """The row scope of a user and, when scoped, the projects of each admin action (two queries
    for other staff: operators' groups, memberships; none for a superuser)."""
    if sees_every_project(user):
        return EVERY_ROW, None
    roles = project_roles(user)
    may = {action: projects_with_role(roles, role) for action, role in ACTION_ROLES.items()}
    if not roles:
        return NO_ROWS, may
    return RowScope.of(roles, writes=may["change"], deletes=may["delete"]), may
