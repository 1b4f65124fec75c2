"""Put each request in its user's row scope (and out of it when the response is done)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.pg import rowscope

from . import selectors


class RowScopeMiddleware:
    """After AuthenticationMiddleware: every statement of the request runs in the user's scope.
    The scope stays until the response is closed, so a streamed body is scoped too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope, may = selectors.access_for(request.user)
        request.row_scope = scope
        request.projects_may = may
        rowscope.activate(scope)
        response = self.get_response(request)
        if not response.streaming:
            rowscope.activate(None)  # a streamed body is still to come: request_finished ends it
        return response


def end_of_request(**_kwargs) -> None:
    rowscope.activate(None)
