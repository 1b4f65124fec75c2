from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.text import slugify

from apps.core.services import validated_save

from .models import Project, ProjectStatus


@transaction.atomic
def project_create(
    *,
    name: str,
    description: str = "",
    repository_url: str = "",
    github_repo_id: int | None = None,
    linear_team_id: str = "",
    settings: dict[str, Any] | None = None,
    slug: str | None = None,
    status: str = ProjectStatus.ACTIVE,
) -> Project:
    project = Project(
        name=(name or "").strip(),
        slug=slug or slugify(name or "")[:255],
        description=description,
        repository_url=repository_url,
        github_repo_id=github_repo_id,
        linear_team_id=linear_team_id,
        settings=settings or {},
        status=status,
    )
    return validated_save(project)


@transaction.atomic
def project_update(*, project: Project, **fields: Any) -> Project:
    allowed = {
        "name",
        "description",
        "repository_url",
        "github_repo_id",
        "linear_team_id",
        "settings",
        "status",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"project_update: unknown fields {sorted(unknown)}")
    for field, value in fields.items():
        setattr(project, field, value)
    return validated_save(project)
