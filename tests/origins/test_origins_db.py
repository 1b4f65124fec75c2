import pytest
from django.db import connection, connections
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from apps.origins import context, repeats
from apps.origins.apps import _command_from_argv
from apps.origins.metrics import REQUEST_QUERIES
from apps.origins.middleware import QueryOriginMiddleware

pytestmark = pytest.mark.django_db


def test_admin_page_statements_name_the_view_and_model(admin_client):
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get("/admin/tasks/task/", HTTP_X_REQUEST_ID="req-origin-1")
    assert response.status_code == 200
    tagged = [q["sql"] for q in captured if "route='admin%3Atasks_task_changelist'" in q["sql"]]
    assert tagged, "no statement of the changelist carried its route"
    assert all("admin='tasks.task'" in sql and "request_id='req-origin-1'" in sql for sql in tagged)


@pytest.mark.django_db(databases=["default", "monitor"])
def test_a_comment_does_not_split_a_pg_stat_statements_entry():
    monitor = connections["monitor"]
    with monitor.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
        assert cursor.fetchone()[0] == 1, "the local cluster preloads pg_stat_statements"
    # A shape no other test sends: pg_stat_statements ignores constants and aliases, and keys
    # entries by role too, so the count is of this role's entries for this shape.
    probe = (
        "SELECT max(g) AS origin_split_probe FROM generate_series(1, %s) g"
        " WHERE g %% 5 = %s OR g %% 17 = %s"
    )
    # Called often enough that a full pg_stat_statements does not evict it as least used.
    for i in range(60):
        with context.bind(request_id=f"request-{i}"), connection.cursor() as cursor:
            cursor.execute(probe, [50, 1, 2])
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user::regrole::oid")
        role = cursor.fetchone()[0]
    with monitor.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(calls), min(query) FROM pg_stat_statements"
            " WHERE query LIKE %s AND userid = %s"
            " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            ["%origin_split_probe%", role],
        )
        entries, calls, text = cursor.fetchone()
    assert entries == 1 and calls >= 60
    assert "request_id=" in text  # the first text seen is kept, comment included


def test_celery_task_statements_name_the_task():
    from celery import shared_task

    @shared_task(name="tests.origins.probe")
    def probe():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 AS celery_origin_probe")
        return connection.queries_log[-1]["sql"] if connection.queries_log else ""

    with CaptureQueriesContext(connection) as captured:
        probe.apply()
    sqls = [q["sql"] for q in captured if "celery_origin_probe" in q["sql"]]
    assert sqls and "celery_task='tests.origins.probe'" in sqls[0]
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        cursor.execute("SELECT 1 AS after_task_probe")
    assert "celery_task" not in captured[0]["sql"]


def test_manage_py_command_is_the_process_origin():
    assert _command_from_argv(["manage.py", "maintain", "--apply"]) == "maintain"
    assert _command_from_argv(["/srv/flowbase/manage.py", "dbhealth"]) == "dbhealth"
    assert _command_from_argv(["manage.py", "--help"]) == ""
    assert _command_from_argv(["celery", "-A", "dataplatform", "worker"]) == ""


def _view_running(n):
    def view(request):
        from django.http import HttpResponse

        for i in range(n):
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM django_content_type WHERE id = %s", [i])
        return HttpResponse("ok")

    return view


def test_a_request_repeating_one_query_shape_is_recorded_and_counted(settings):
    settings.QUERY_REPEAT_THRESHOLD = 10
    before = REQUEST_QUERIES._sum.get()
    QueryOriginMiddleware(_view_running(9))(RequestFactory().get("/admin/x/"))
    assert repeats.take() == []
    QueryOriginMiddleware(_view_running(10))(RequestFactory().get("/admin/x/"))
    seen = repeats.take()
    assert len(seen) == 1 and seen[0][1][0][1] == 10
    assert REQUEST_QUERIES._sum.get() - before == 19


def test_a_view_that_runs_a_batch_is_not_an_n_plus_one(settings):
    from apps.origins.repeats import runs_a_batch

    settings.QUERY_REPEAT_THRESHOLD = 10
    view = runs_a_batch(_view_running(12))
    middleware = QueryOriginMiddleware(
        lambda request: middleware.process_view(request, view, (), {}) or view(request)
    )
    middleware(RequestFactory().get("/admin/x/"))
    assert repeats.take() == []
