"""Fixtures for the ops tests: a real Celery worker on a separate Redis database, clean archive
tables, and a builder for archivable workflows."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow
from dataplatform.celery import app as celery_app
from tests.factories.domain import ProjectFactory

TEST_REDIS_DB = 2  # `make run` uses /0: a dev worker must never pick up test tasks


def _redis_url(db: int) -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    url = _redis_url(TEST_REDIS_DB)
    celery_app.conf.update(
        broker_url=url,
        result_backend=url,
        task_always_eager=False,
        broker_connection_retry_on_startup=False,
    )
    with (
        django_db_blocker.unblock(),
        start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            loglevel="warning",
            shutdown_timeout=30,
        ) as worker,
    ):
        yield worker


@pytest.fixture
def clean_archive(django_db_blocker):
    """The archive tables are unmanaged, so test flushes never empty them: do it here (as the
    owner: the app may only read the archive)."""

    def truncate():
        with connections["owner"].cursor() as cursor:
            cursor.execute(
                "TRUNCATE archive.workflows_workflow, archive.tasks_task,"
                " archive.tasks_taskdependency"
            )

    truncate()
    yield
    truncate()


def raw_connection() -> psycopg.Connection:
    """A second, plain database session (another client holding locks)."""
    db = settings.DATABASES["default"]
    return psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        autocommit=False,
    )


def wait_for_lock_wait(relation: str, timeout: float = 10.0) -> None:
    """Block until some session waits for a lock on `relation`."""
    deadline = timezone.now() + timedelta(seconds=timeout)
    with raw_connection() as conn:
        conn.autocommit = True
        while timezone.now() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                [relation],
            ).fetchone()
            if row[0]:
                return
            threading.Event().wait(0.05)
    raise AssertionError(f"nobody waited for a lock on {relation}")


def make_workflow(
    *,
    project=None,
    status: str = "completed",
    age_days: int = 400,
    tasks: int = 3,
    dependencies: bool = True,
    name: str | None = None,
) -> Workflow:
    """A workflow finished `age_days` ago with `tasks` tasks (done; chained by dependencies)."""
    project = project or ProjectFactory()
    finished = timezone.now() - timedelta(days=age_days)
    workflow = Workflow.objects.create(
        project=project,
        name=name or f"wf-{Workflow.objects.count()}-{timezone.now().timestamp()}",
        status=status,
        definition={"nodes": [{"id": i} for i in range(tasks)]},
        node_count=tasks,
        started_at=finished - timedelta(days=2),
        completed_at=finished if status in ("completed", "cancelled", "failed") else None,
    )
    created = []
    for i in range(tasks):
        task_status = "done" if status == "completed" else "cancelled"
        if status not in ("completed", "cancelled"):
            task_status = "pending"
        task = Task.objects.create(
            workflow=workflow,
            title=f"{workflow.name} task {i}",
            status=task_status,
            external_key=str(i + 1),
            completed_at=finished - timedelta(hours=i + 1) if task_status == "done" else None,
        )
        created.append(task)
    # Tasks were opened a day before the workflow finished (auto_now_add stamped them now).
    Task.objects.filter(workflow=workflow).update(created_at=finished - timedelta(days=1))
    if dependencies:
        for before, after in itertools.pairwise(created):
            TaskDependency.objects.create(task=after, depends_on=before)
    workflow.refresh_from_db()
    return workflow
