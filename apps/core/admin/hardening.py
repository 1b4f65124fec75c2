"""Hostile input in the admin gets the admin's own refusals (form errors, "invalid lookup"
redirect, a 400 page), never a 500. Mixed into every ModelAdmin registered on Flowbase's site
(apps.core.admin.site), Django's and third-party ones included.

- Changelists: lookups typed into the query string that fail when the SQL is compiled
  (`id__range=1`, `created_at__year=99999999999`) or that the database refuses (`__regex=(a`,
  NUL bytes) become Django's IncorrectLookupParameters with a message saying why.
- Actions: selected ids that are not ids of this model are refused with a message.
- Forms: NUL and lone surrogates in any cleaned value, JSON too deep or holding NaN, are a
  field error; a third-party `clean()` that trips over already-invalid input, or recurses on
  deep input, becomes a form error.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import IGNORED_PARAMS
from django.core.exceptions import EmptyResultSet, FullResultSet, ValidationError
from django.db import DataError, transaction
from django.db.models import QuerySet
from django.http import HttpResponseRedirect

from apps.core.validation import check_value
from apps.pg.errors import first_line

logger = logging.getLogger(__name__)


# --- changelists ---------------------------------------------------------------------------


class SafeChangeListMixin:
    """Validate user-typed filtering before the page is built on it."""

    def _user_filtered(self) -> bool:
        return bool(self.query) or any(key not in IGNORED_PARAMS for key in self.params)

    def get_queryset(self, request, exclude_parameters=None):
        qs = super().get_queryset(request, exclude_parameters)
        if self._user_filtered():
            try:  # compile now: some bad values only fail here (range, year overflow)
                qs.query.get_compiler(qs.db).as_sql()
            except (EmptyResultSet, FullResultSet):
                pass
            except (ValueError, TypeError, IndexError, OverflowError, ValidationError) as exc:
                self._refuse(request, exc)
        return qs

    def get_results(self, request):
        if not self._user_filtered():
            return super().get_results(request)
        try:
            # A savepoint (or a short transaction): a refused query leaves the connection usable.
            with transaction.atomic(using=self.queryset.db):
                super().get_results(request)
                if isinstance(self.result_list, QuerySet):
                    self.result_list._fetch_all()
        except DataError as exc:
            self._refuse(request, exc)

    def _refuse(self, request, exc: BaseException):
        logger.info(
            "changelist %s: lookup refused: %s", self.model._meta.label, first_line(exc, limit=300)
        )
        messages.error(
            request, f"This filter or search cannot be applied: {first_line(exc, limit=300)}"
        )
        raise IncorrectLookupParameters(exc)


_changelists: dict[type, type] = {}


def safe_changelist(base: type) -> type:
    if issubclass(base, SafeChangeListMixin):
        return base
    if base not in _changelists:
        _changelists[base] = type(base.__name__, (SafeChangeListMixin, base), {})
    return _changelists[base]


# --- forms ---------------------------------------------------------------------------------


class HardenedFormMixin:
    def _clean_fields(self):
        super()._clean_fields()
        for name, value in list(self.cleaned_data.items()):
            problems = check_value(value, field=None)
            if problems:
                self.add_error(name, problems)

    def _clean_form(self):
        try:
            super()._clean_form()
        except RecursionError:
            self.add_error(None, "A value is nested too deeply to be validated.")
        except (KeyError, ValueError, TypeError) as exc:
            if not self._errors:
                raise  # valid input that breaks clean() is a bug, not hostile input
            logger.info("%s.clean() failed on invalid input: %r", type(self).__name__, exc)


def hardened_form(form_class: type) -> type:
    if issubclass(form_class, HardenedFormMixin):
        return form_class
    hardened = type(form_class.__name__, (HardenedFormMixin, form_class), {})
    hardened.__module__ = form_class.__module__
    return hardened


def hardened_formset(formset_class: type) -> type:
    # Formset classes are built per request by the factories: setting the attribute is local.
    formset_class.form = hardened_form(formset_class.form)
    return formset_class


# --- the ModelAdmin mixin ----------------------------------------------------------------------


class HostileInputAdminMixin:
    def get_changelist(self, request, **kwargs):
        return safe_changelist(super().get_changelist(request, **kwargs))

    def get_form(self, request, obj=None, **kwargs):  # UserAdmin's takes no `change`
        return hardened_form(super().get_form(request, obj, **kwargs))

    def get_formsets_with_inlines(self, request, obj=None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            yield hardened_formset(formset), inline

    def get_changelist_formset(self, request, **kwargs):
        return hardened_formset(super().get_changelist_formset(request, **kwargs))

    def response_action(self, request, queryset):
        pk_field = self.opts.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                pk_field.to_python(value)
                problem = check_value(value, field=None)
            except ValidationError:
                problem = ["not an id"]
            if problem:
                self.message_user(
                    request,
                    f"The selection {value[:40]!r} is not a {self.opts.verbose_name} id; "
                    "no items have been changed.",
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


def hardened_admin_class(admin_class: type) -> type:
    from .scoping import ProjectScopedAdminMixin

    if issubclass(admin_class, HostileInputAdminMixin):
        return admin_class
    mixins = (HostileInputAdminMixin,)
    if not issubclass(admin_class, ProjectScopedAdminMixin):
        mixins += (ProjectScopedAdminMixin,)
    hardened = type(admin_class.__name__, (*mixins, admin_class), {})
    hardened.__module__ = admin_class.__module__
    hardened.__doc__ = admin_class.__doc__
    return hardened
