"""Project-scoped staff in the admin: the first of two fences (row-level security is the second).

Every ModelAdmin on Flowbase's site gets `ProjectScopedAdminMixin`. An admin whose model belongs
to a project names the way there (`project_lookup`, e.g. "workflow__project_id"); for a user
whose request carries a row scope of some projects, its lists, change views, search,
autocomplete and raw-id popups (all built on `get_queryset`), bulk actions and foreign-key
choices show only those projects' rows, and adding, changing and deleting follow the user's role
in the project (`request.projects_may`, set by apps.access's middleware).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.pg import rowscope


def request_scope(request) -> rowscope.RowScope:
    scope = getattr(request, "row_scope", None)
    if scope is None:  # a request that missed the middleware: fail closed, superusers aside
        user = getattr(request, "user", None)
        return rowscope.EVERY_ROW if getattr(user, "is_superuser", False) else rowscope.NO_ROWS
    return scope


def projects_may(request, action: str) -> frozenset[int] | None:
    """Project ids where the request's user may `action` (view/add/change/delete); None: all."""
    scope = request_scope(request)
    if scope.everything:
        return None
    may = getattr(request, "projects_may", None)
    if may is None:
        return scope.ids if action == "view" else frozenset()
    return frozenset(may.get(action, ()))


def _follow(obj, lookup: str):
    value = obj
    for part in lookup.split("__"):
        if value is None:
            return None
        value = getattr(value, part, None)
    return value


def _refuse(*_args, **_kwargs) -> bool:
    return False


class ProjectScopedAdminMixin:
    """Mixed in *before* the admin class, so it declares no attribute of its own: an admin says
    `project_lookup = "<ORM path to the project's id>"` (none: not bound to a project),
    `hidden_from_scoped_staff = True` (every project's rows in one table: the audit log, the
    archives; the default for a model with no lookup unless `shared_with_scoped_staff = True`),
    `scoped_actions` (an admin action -> the project action it needs), and may define
    `filter_by_projects(queryset, ids)` and `project_of(obj)`."""

    @property
    def _lookup(self) -> str | None:
        return getattr(self, "project_lookup", None)

    @property
    def _hidden(self) -> bool:
        # Fail closed: a model bound to no project is hidden from scoped staff unless its admin
        # says its rows belong to no project (`shared_with_scoped_staff`: templates, components).
        if getattr(self, "hidden_from_scoped_staff", False):
            return True
        return self._lookup is None and not getattr(self, "shared_with_scoped_staff", False)

    def scope_filter(self, queryset: QuerySet, project_ids: frozenset[int]) -> QuerySet:
        # An admin whose rows reach their project another way defines filter_by_projects().
        custom = getattr(self, "filter_by_projects", None)
        if custom is not None:
            return custom(queryset, project_ids)
        return queryset.filter(Q(**{f"{self._lookup}__in": project_ids}))

    def _project_id(self, obj) -> int | None:
        custom = getattr(self, "project_of", None)
        if custom is not None:
            return custom(obj)
        return _follow(obj, self._lookup) if self._lookup else None

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        visible = projects_may(request, "view")
        if visible is None:
            return queryset
        if self._hidden:
            return queryset.none()
        if self._lookup is None:
            return queryset
        return self.scope_filter(queryset, visible)

    def _action(self, action: str) -> str:
        # e.g. memberships: adding one to a project is "manage" (its maintainers), not "add".
        return getattr(self, "scoped_actions", {}).get(action, action)

    def _role_allows(self, request, action: str, obj) -> bool:
        allowed = projects_may(request, self._action(action))
        if allowed is None or self._lookup is None:
            return not (allowed is not None and self._hidden)
        if obj is None:
            return bool(allowed)
        return self._project_id(obj) in allowed

    def has_view_permission(self, request, obj=None) -> bool:
        hidden = self._hidden and projects_may(request, "view") is not None
        return not hidden and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return super().has_add_permission(request, *args) and self._role_allows(
            request, "add", None
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._role_allows(
            request, "change", obj
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._role_allows(
            request, "delete", obj
        )

    def response_action(self, request, queryset):
        """A bulk action reaches only the selected rows the user's role lets it change (or
        delete, for delete_selected), whatever the action itself checks."""
        allowed = projects_may(request, self._action("change"))
        if allowed is not None and self._lookup is not None:
            action = request.POST.get("action", "")
            if action == "delete_selected":
                allowed = projects_may(request, self._action("delete"))
            queryset = self.scope_filter(queryset, allowed)
        return super().response_action(request, queryset)

    def get_inline_instances(self, request, obj=None):
        """Inlines edit rows of the same project: they may do what the parent's role allows."""
        inlines = super().get_inline_instances(request, obj)
        if projects_may(request, "view") is None or self._lookup is None:
            return inlines
        change = self._role_allows(request, "change", obj)
        delete = self._role_allows(request, "delete", obj)
        for inline in inlines:
            if not change:
                inline.has_add_permission = _refuse
                inline.has_change_permission = _refuse
            if not delete:
                inline.has_delete_permission = _refuse
        return inlines

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Choices (and what a posted id may be) limited to the projects the user may change."""
        related_admin = self.admin_site._registry.get(db_field.related_model)
        allowed = projects_may(request, self._action("change"))
        if (
            allowed is not None
            and "queryset" not in kwargs
            and isinstance(related_admin, ProjectScopedAdminMixin)
            and related_admin._lookup is not None
        ):
            base = db_field.remote_field.model._default_manager.using(kwargs.get("using"))
            kwargs["queryset"] = related_admin.scope_filter(base.all(), allowed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
