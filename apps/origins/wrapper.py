"""The execute wrapper every connection gets: tag the statement with its origin, count it."""

from __future__ import annotations

from django.conf import settings

from . import comment, context, tally


def tag_and_count(execute, sql, params, many, ctx):
    counter = tally.current()
    if counter is not None:
        counter.add(sql)
    if getattr(settings, "QUERY_ORIGIN_COMMENTS", True):
        sql = comment.add_comment(sql, context.current(), has_params=params is not None)
    return execute(sql, params, many, ctx)


def install(connection, **_kwargs) -> None:
    """connection_created receiver: wrap once per connection object (it outlives reconnects)."""
    if tag_and_count not in connection.execute_wrappers:
        connection.execute_wrappers.append(tag_and_count)
