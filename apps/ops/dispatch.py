"""Sending jobs from a web request ("Refresh now"): fail fast, with a message staff can act on.

Celery's defaults suit workers, not requests: with Redis down, `delay()` first retries the
connection to the broker, then subscribes to the result backend with 20 one-second retries
(measured: 19 s before the error). A job sent from a click probes Redis once (no retries) and
publishes with one connection attempt and no publish retries, so a click gets its answer in
about a second either way.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import redis
from celery import Task
from celery.contrib.django.task import DjangoTask
from celery.result import AsyncResult
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from apps.pg.errors import first_line

logger = logging.getLogger(__name__)


class JobQueueUnavailable(RuntimeError):
    """The broker (Redis) could not take the job; nothing was started."""


def _broker_url(app) -> str:
    return str(app.conf.broker_write_url or app.conf.broker_url or "")


def _broker_location(app) -> str:
    parts = urlsplit(_broker_url(app))
    return f"{parts.hostname}:{parts.port}" if parts.hostname else "the broker"


def _probe(url: str, timeout: float) -> None:
    """One PING with no retries (redis-py and kombu would retry a refused connection)."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return  # another transport (memory:// in tests): nothing to probe
    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    finally:
        client.close()


def enqueue_interactive(task: Task, *args, fallback: str = "", **kwargs) -> AsyncResult:
    """Send `task` once, or raise JobQueueUnavailable within JOB_INTERACTIVE_SEND_TIMEOUT
    seconds (default 2) when Redis (broker or result store) is unreachable.

    fallback: what staff can do instead (e.g. the management command), added to the message."""
    app = task.app
    timeout = float(getattr(settings, "JOB_INTERACTIVE_SEND_TIMEOUT", 2))
    # max_retries=0: one connection attempt (kombu's default retries for a long while).
    options = {**(app.conf.broker_transport_options or {}), "max_retries": 0}
    options["socket_connect_timeout"] = timeout
    try:
        # The result store first: subscribing to a result retries 20 times, one second apart.
        for url in dict.fromkeys([str(app.conf.result_backend or ""), _broker_url(app)]):
            _probe(url, timeout)
        with app.connection_for_write(connect_timeout=timeout, transport_options=options) as conn:
            return task.apply_async(args, kwargs, connection=conn, retry=False)
    except Exception as exc:  # kombu/redis connection errors, whatever the transport
        logger.warning("could not send %s: %s", task.name, first_line(exc))
        raise JobQueueUnavailable(
            f"the job queue (Redis at {_broker_location(app)}) is not reachable, so nothing "
            f"was started ({first_line(exc, limit=120)})."
            + (f" {fallback}" if fallback else " Try again once it is back.")
        ) from exc


class FailFastTask(DjangoTask):
    """Base of jobs staff start with a click: `delay()` is enqueue_interactive() (no long
    blocking of the request when Redis is down). Code that sends such a job from a worker and
    wants Celery's retries uses apply_async()."""

    interactive_fallback = ""  # str.format()ted with the job's arguments

    def delay(self, *args, **kwargs):
        fallback = self.interactive_fallback.format(*args, **kwargs)
        return enqueue_interactive(self, *args, fallback=fallback, **kwargs)
