from django.contrib import admin

from apps.core.admin import BigTableAdmin

from .models import ProjectMembership


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(BigTableAdmin):
    project_lookup = "project_id"
    # Only a project's maintainers (and unscoped staff) say who else is a member.
    scoped_actions = {"add": "manage", "change": "manage", "delete": "manage"}
    list_display = ("project", "user", "role", "created_at")
    list_filter = ("role",)
    list_select_related = ("project", "user")
    raw_id_fields = ("project", "user")
    search_fields = ("user__username",)
    readonly_fields = ("created_at",)
    ordering = ("project_id", "user_id")
