"""Jobs started with a click fail fast, with a message, when Redis is down ("Refresh now" used
to block the request for 19 s)."""

from __future__ import annotations

import socket
import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.ops import tasks
from apps.ops.dispatch import JobQueueUnavailable
from dataplatform.celery import app

FAST = 3.0  # seconds: the send's own timeout is 2 s, a refused connection is immediate


@pytest.fixture
def redis_down(monkeypatch):
    """Broker and result store pointed at a loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"redis://127.0.0.1:{port}/0"
    for key in ("broker_url", "result_backend"):
        monkeypatch.setitem(app.conf, key, closed)
    return port


def test_refresh_send_fails_fast_with_a_clear_message(redis_down):
    started = time.monotonic()
    with pytest.raises(JobQueueUnavailable) as caught:
        tasks.refresh_matview_task.delay("workflow_summary")
    assert time.monotonic() - started < FAST
    message = str(caught.value)
    assert f"Redis at 127.0.0.1:{redis_down}) is not reachable, so nothing was started" in message
    assert "python manage.py refresh_views workflow_summary" in message


@pytest.mark.django_db
def test_refresh_now_answers_at_once_when_redis_is_down(client, django_user_model, redis_down):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    started = time.monotonic()
    response = client.post(reverse("admin:dbhealth_matview_refresh"), {"name": "workflow_summary"})
    assert time.monotonic() - started < FAST
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Could not enqueue the refresh of workflow_summary" in message
    assert "is not reachable, so nothing was started" in message
