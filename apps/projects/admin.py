from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import BigTableAdmin

from .models import Project


@admin.register(Project)
class ProjectAdmin(BigTableAdmin):
    project_lookup = "id"
    # A new project is in nobody's scope yet: only unscoped staff create projects.
    scoped_actions = {"add": "create_project"}
    list_display = ("name", "slug", "status", "repository_url", "workflows_link", "updated_at")
    list_filter = ("status",)
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ("created_at", "updated_at", "workflows_link")
    ordering = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "status", "description")}),
        ("Integrations", {"fields": ("repository_url", "github_repo_id", "linear_team_id")}),
        ("Settings", {"fields": ("settings",)}),
        ("Related", {"fields": ("workflows_link", "created_at", "updated_at")}),
    )

    @admin.display(description="Workflows")
    def workflows_link(self, obj: Project) -> str:
        # A link to the filtered changelist, not an inline: a project can have thousands.
        url = reverse("admin:workflows_workflow_changelist") + f"?project__id__exact={obj.pk}"
        return format_html('<a href="{}">Workflows of {}</a>', url, obj.name)
