"""Which staff may see which projects, and what they may do there."""

from django.conf import settings
from django.db import models

from apps.audit.triggers import audit_triggers
from apps.core.models import choices_check


class ProjectRole(models.TextChoices):
    VIEWER = "viewer", "Viewer"  # sees the project's rows
    EDITOR = "editor", "Editor"  # ... and adds and changes them
    MAINTAINER = "maintainer", "Maintainer"  # ... and deletes them

    @classmethod
    def rank(cls, role: str) -> int:
        return [cls.VIEWER, cls.EDITOR, cls.MAINTAINER].index(role)


class ProjectMembership(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=20, choices=ProjectRole, default=ProjectRole.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project_id", "user_id"]
        triggers = [*audit_triggers()]  # who gave whom access, and when
        constraints = [
            # Leads with project: also the index of the project FK.
            models.UniqueConstraint(
                fields=["project", "user"],
                name="membership_unique_per_project",
                violation_error_message="This user is already a member of this project.",
            ),
            choices_check("role", ProjectRole, "membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"
