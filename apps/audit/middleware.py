"""Tell the database who is acting, so audit triggers can record the user and request id."""

import re
import uuid

from django.http import HttpRequest, HttpResponse

from apps.audit import request_context

# Only the admin writes on behalf of a logged-in user; health and metrics endpoints stay
# free of database round trips.
AUDITED_PREFIXES = ("/admin/",)

# audit_auditevent.request_id is varchar(64). The header comes from the client (or a proxy), so
# anything else (longer, spaces, control characters, non-ASCII) is replaced by a generated id.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=/-]{0,63}")


def clean_request_id(header: str | None) -> str:
    """The client's X-Request-ID if it is a plain token of at most 64 characters, else a new one."""
    if header and REQUEST_ID_PATTERN.fullmatch(header):
        return header
    return uuid.uuid4().hex


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        if not request.path.startswith(AUDITED_PREFIXES):
            return self.get_response(request)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        with request_context.bind(user_id=user_id, request_id=request_id):
            request_context.apply_to_session()
            try:
                response = self.get_response(request)
            finally:
                request_context.clear_session()
        response["X-Request-ID"] = request_id
        return response
