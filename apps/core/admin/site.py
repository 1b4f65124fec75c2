"""Flowbase's admin site: the default `admin.site` (see apps.core.apps.FlowbaseAdminConfig).

Every ModelAdmin registered here gets `HostileInputAdminMixin`; every admin view (the models'
and the custom pages') answers a value the database refuses (`DataError`: bad regex, NUL,
out-of-range numbers) with a 400 page instead of a 500.
"""

from __future__ import annotations

import functools
import logging

from django.contrib import admin
from django.db import DatabaseError, DataError
from django.template.response import SimpleTemplateResponse, TemplateResponse

from apps.pg.errors import first_line

from .hardening import hardened_admin_class

logger = logging.getLogger(__name__)


class FlowbaseAdminSite(admin.AdminSite):
    site_header = "Flowbase administration"
    site_title = "Flowbase"
    index_title = "Flowbase data platform"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = hardened_admin_class(admin_class or admin.ModelAdmin)
        return super().register(model_or_iterable, admin_class, **options)

    def admin_view(self, view, cacheable=False):
        return super().admin_view(self._refusing_data_errors(view), cacheable)

    def _refusing_data_errors(self, view):
        @functools.wraps(view)  # keeps csrf_exempt and friends visible to admin_view()
        def inner(request, *args, **kwargs):
            try:
                response = view(request, *args, **kwargs)
                # Render here: querysets evaluated by the template are inside this try.
                if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                    response.render()
                return response
            except DataError as exc:
                logger.warning("admin %s: value refused by the database: %s", request.path, exc)
                return self.bad_request(request, first_line(exc, limit=300))

        return inner

    def bad_request(self, request, reason: str) -> TemplateResponse:
        try:
            context = self.each_context(request)
        except DatabaseError:  # inside a transaction the refusal aborted
            context = {"site_header": self.site_header, "site_title": self.site_title}
        context.update({"title": "Bad request", "reason": reason})
        request.current_app = self.name
        response = TemplateResponse(request, "admin/bad_request.html", context, status=400)
        return response.render()
