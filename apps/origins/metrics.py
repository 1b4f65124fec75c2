"""Query counts per request as a Prometheus histogram (and the shared window behind the overview's
p50/p95), and requests that repeated a query shape."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from . import window
from .tally import Tally

REQUEST_QUERIES = Histogram(
    "flowbase_request_queries",
    "SQL statements sent per HTTP request",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
REPEATED_QUERY_REQUESTS = Counter(
    "flowbase_repeated_query_requests",
    "Requests that sent one query shape at least QUERY_REPEAT_THRESHOLD times (N+1)",
)


def observe_request(counter: Tally) -> None:
    REQUEST_QUERIES.observe(counter.queries)
    window.record(counter.queries)
