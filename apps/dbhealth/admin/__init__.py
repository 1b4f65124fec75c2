"""The admin's "Database" section: custom pages on a table-less model, plus check/result admins."""

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import path

from .. import sections, services
from ..models import DatabaseHealth, DataQualityCheck, DataQualityResult, Finding
from . import views

VIEW_PERM = "dbhealth.view_databasehealth"
AUTHOR_SQL_PERM = "dbhealth.author_custom_sql"
SAMPLES_PERM = "dbhealth.view_failing_rows"


@admin.register(DatabaseHealth)
class DatabaseHealthAdmin(admin.ModelAdmin):
    """Entry in the admin index; its changelist is the Overview page."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(VIEW_PERM)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(VIEW_PERM)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        views.require(request, VIEW_PERM)
        return redirect("admin:dbhealth_overview")

    def get_object(self, request, object_id, from_field=None):
        return None  # no table, no objects: change/delete/history say "doesn't exist"

    def get_urls(self):
        def wrap(view):
            def inner(request, *args, **kwargs):
                return view(request, self, *args, **kwargs)

            inner.runs_a_batch = getattr(view, "runs_a_batch", False)
            return self.admin_site.admin_view(inner)

        pages = [
            path(f"{s.slug}/", wrap(getattr(views, s.view)), name=f"dbhealth_{s.name}")
            for s in sections.SECTIONS
        ]
        pages += [
            path(
                "activity/<int:pid>/<str:action>/",
                wrap(views.activity_signal),
                name="dbhealth_activity_signal",
            ),
            path("matviews/refresh/", wrap(views.matview_refresh), name="dbhealth_matview_refresh"),
            path("quality/run/", wrap(views.quality_run), name="dbhealth_quality_run"),
            path("quality/<int:pk>/", wrap(views.quality_check), name="dbhealth_quality_check"),
            # Before the resolve/snooze route, which would take "accept" as its action.
            path(
                "findings/<int:pk>/accept/",
                wrap(views.finding_accept),
                name="dbhealth_finding_accept",
            ),
            path(
                "findings/<int:pk>/<str:action>/",
                wrap(views.finding_action),
                name="dbhealth_finding_action",
            ),
        ]
        return pages + super().get_urls()


class DataQualityCheckForm(forms.ModelForm):
    class Meta:
        model = DataQualityCheck
        fields = (
            "name",
            "kind",
            "description",
            "target_table",
            "target_column",
            "params",
            "threshold",
            "severity",
            "enabled",
        )

    # Set by DataQualityCheckAdmin.get_form: who is saving.
    user = None

    def clean(self):
        data = super().clean()
        old = self.instance if self.instance.pk else None
        kind = data.get("kind", old.kind if old else "") or ""
        params = data.get("params", old.params if old else {}) or {}
        if services.custom_sql_change(old=old, kind=kind, params=params) and not (
            self.user is not None and self.user.has_perm(AUTHOR_SQL_PERM)
        ):
            raise forms.ValidationError(
                "Writing or changing custom SQL needs its own permission "
                f"({AUTHOR_SQL_PERM}), not only the permission to add or change checks."
            )
        # Validation reads the catalog only: saving a check never runs it (that needs
        # dbhealth.run_quality_checks, or the hourly job).
        problems = services.dataquality_check_problems(
            kind=kind,
            target_table=data.get("target_table") or "",
            target_column=data.get("target_column") or "",
            params=params,
        )
        if problems:
            raise forms.ValidationError(problems)
        return data


@admin.register(DataQualityCheck)
class DataQualityCheckAdmin(admin.ModelAdmin):
    # Definitions, not rows of a project; results (failing-row samples) and findings stay hidden
    # from scoped staff. author_custom_sql reads every project through the sandbox: an
    # operator's permission (docs/security.md).
    shared_with_scoped_staff = True
    form = DataQualityCheckForm
    list_display = (
        "name",
        "kind",
        "target_table",
        "target_column",
        "severity",
        "threshold",
        "enabled",
    )
    list_filter = ("kind", "severity", "enabled")
    search_fields = ("name", "target_table")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def get_readonly_fields(self, request, obj=None):
        """A custom-SQL check's SQL is shown, not editable, to those who may not author SQL."""
        if (
            obj is not None
            and obj.kind == "custom_sql"
            and not request.user.has_perm(AUTHOR_SQL_PERM)
        ):
            return ("kind", "params")
        return ()

    fields = (
        "name",
        "kind",
        "description",
        "target_table",
        "target_column",
        "params",
        "threshold",
        "severity",
        "enabled",
    )


@admin.register(DataQualityResult)
class DataQualityResultAdmin(admin.ModelAdmin):
    list_display = (
        "check_ref",
        "ran_at",
        "passed",
        "failed_count",
        "total",
        "duration_ms",
        "error",
    )
    list_filter = ("passed",)
    list_select_related = ("check_ref",)
    raw_id_fields = ("check_ref",)
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        """Failing-row samples need their own permission (the operators group has none)."""
        fields = list(super().get_fields(request, obj))
        if not request.user.has_perm(SAMPLES_PERM):
            fields = [f for f in fields if f != "failing_rows"]
        return fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    """Read-only list; resolve and snooze live on the Findings page (who, when, note)."""

    list_display = ("title", "severity", "status", "kind", "last_seen", "snoozed_until")
    list_filter = ("status", "severity", "kind")
    search_fields = ("key", "title")
    list_select_related = ("resolved_by",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
