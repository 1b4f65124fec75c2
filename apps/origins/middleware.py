"""Tag a request's statements with its view (and admin model) and request id; count its queries."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from . import context, metrics, repeats, tally

logger = logging.getLogger(__name__)


def _view_tags(request: HttpRequest, view_func) -> dict[str, str]:
    match = request.resolver_match
    tags = {"route": match.view_name if match and match.view_name else ""}
    model_admin = getattr(view_func, "model_admin", None)
    if model_admin is not None:
        tags["admin"] = model_admin.opts.label_lower
    return tags


class QueryOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = getattr(request, "request_id", "")
        with context.bind(request_id=request_id) as tags, tally.counting() as counter:
            request.query_origin = tags
            response = self.get_response(request)
        metrics.observe_request(counter)
        threshold = settings.QUERY_REPEAT_THRESHOLD
        repeated = [] if getattr(request, "runs_a_batch", False) else counter.repeated(threshold)
        if repeated:
            shape, times = repeated[0]
            metrics.REPEATED_QUERY_REQUESTS.inc()
            logger.warning(
                "N+1 pattern: %s sent one query shape %d times (%s)",
                tags.get("route") or request.path,
                times,
                shape[:200],
            )
            repeats.record(tags.get("route") or request.path, repeated)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "runs_a_batch", False):
            request.runs_a_batch = True
        tags = getattr(request, "query_origin", None)
        if tags is not None:
            tags.update({k: v for k, v in _view_tags(request, view_func).items() if v})
        return None
