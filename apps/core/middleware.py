"""Per-request context (acting user, request id) for database-side audit capture."""

import uuid

from django.http import HttpRequest, HttpResponse

from . import request_context


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        with request_context.bind(user_id=user_id, request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
