"""The big-table changelist: lean counts, index-backed sorts only, keyset beyond deep pages."""

import re
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.core.admin import BigTableAdmin
from apps.core.admin.changelist import BigTableChangeList
from apps.core.admin.sorting import index_sortable
from apps.events.models import EventRow
from apps.tasks.models import Task
from tests.factories import domain as f
from tests.factories.events import EventFactory

pytestmark = pytest.mark.django_db

TASKS = reverse("admin:tasks_task_changelist")
EVENTS = reverse("admin:events_eventrow_changelist")
ARTICLES = reverse("admin:knowledge_article_changelist")


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.fixture
def big_tables(monkeypatch):
    """Every BigTableAdmin behaves as over a big table, whatever the test database holds."""
    monkeypatch.setattr(BigTableAdmin, "sorts_need_index_above", -1)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(BigTableChangeList, "max_offset", 10)
    for model in (Task, EventRow):
        monkeypatch.setattr(admin.site._registry[model], "list_per_page", 5)


def _queries(client, url, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return response, [q["sql"] for q in ctx.captured_queries]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- counts ------------------------------------------------------------------------------------


def test_filtered_count_has_no_order_by(staff_client):
    f.TaskFactory.create_batch(3, status="pending")
    _, sqls = _queries(staff_client, TASKS, {"status__exact": "pending", "o": "2"})
    counts = [sql for sql in sqls if "COUNT(" in sql.upper()]
    assert counts, sqls
    assert all("ORDER BY" not in sql.upper() for sql in counts), counts
    rows = [sql for sql in sqls if 'FROM "tasks_task"' in sql and "COUNT(" not in sql.upper()]
    assert any("ORDER BY" in sql for sql in rows)  # the page itself is still sorted


def test_search_count_does_not_rank(staff_client):
    f.ArticleFactory.create_batch(2, title="Kubernetes rollouts", content="pods and nodes")
    _, sqls = _queries(staff_client, ARTICLES, {"q": "kubernetes"})
    counts = [sql for sql in sqls if "COUNT(" in sql.upper()]
    assert counts
    for sql in counts:
        # Only the search's candidate subquery (ORDER BY … LIMIT) may order: the count does not.
        outer = sql.upper().replace(" LIMIT 1000)", "").split(" IN (SELECT")[0]
        assert "ts_rank" not in sql and "ORDER BY" not in outer, sql
    assert any("ts_rank" in sql for sql in sqls if "COUNT(" not in sql.upper())


# --- sorting ----------------------------------------------------------------------------------


def test_big_table_offers_only_index_backed_sorts(rf, admin_user, big_tables):
    request = rf.get(TASKS)
    request.user = admin_user
    offered = admin.site._registry[Task].get_sortable_by(request)
    assert "id" in offered
    assert "title" not in offered  # a trigram GIN index cannot sort
    assert "workflow" not in offered  # a FK sorts by the related model, through a join


def test_small_table_keeps_every_declared_sort(rf, admin_user):
    request = rf.get(TASKS)
    request.user = admin_user
    assert "priority" in admin.site._registry[Task].get_sortable_by(request)


@pytest.mark.parametrize("order", ["99", "abc", "-", "1.x", "0.99", "٣", "1" * 40, "2", "3", "0"])
def test_hostile_or_unindexed_sort_falls_back_to_default(staff_client, big_tables, order):
    # Column 2 is the title, 3 the workflow: sortable on small tables, refused on big ones
    # (column 0 is the action checkbox).
    f.TaskFactory.create_batch(3)
    response, sqls = _queries(staff_client, TASKS, {"o": order})
    assert any("default order" in m for m in _messages(response))
    page = [sql for sql in sqls if 'FROM "tasks_task"' in sql and "COUNT(" not in sql]
    assert page and all('ORDER BY "tasks_task"."id" DESC' in sql for sql in page), page


def test_offered_sort_is_applied_with_a_same_direction_tie_breaker(staff_client, big_tables):
    f.TaskFactory.create_batch(3)
    response, sqls = _queries(staff_client, TASKS, {"o": "1"})  # id ascending
    assert not _messages(response)
    assert any('ORDER BY "tasks_task"."id" ASC' in sql for sql in sqls)


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("8", '"tasks_task"."updated_at" ASC, "tasks_task"."id" ASC'),
        ("-8", '"tasks_task"."updated_at" DESC, "tasks_task"."id" DESC'),
        ("5", '"tasks_task"."priority" ASC, "tasks_task"."id" ASC'),
    ],
)
def test_the_tie_breaker_follows_a_column_sort_so_its_index_serves_it(
    staff_client, big_tables, order, expected
):
    # The list's queryset orders by "-id" itself: that tie-breaker turns with the sort too,
    # or (updated_at ASC, id DESC) re-sorts every row of a million-row table.
    f.TaskFactory.create_batch(3)
    response, sqls = _queries(staff_client, TASKS, {"o": order})
    assert not _messages(response)
    page = [sql for sql in sqls if 'FROM "tasks_task"' in sql and "COUNT(" not in sql]
    assert any(f"ORDER BY {expected}" in sql for sql in page), page


def test_the_task_page_takes_its_keys_first_then_its_rows_in_the_same_order(
    staff_client, small_pages
):
    blocked = f.TaskFactory.create_batch(7, status="blocked")
    f.TaskFactory.create_batch(4, status="pending")
    for params, expected in (
        ({"status__exact": "blocked"}, sorted((t.pk for t in blocked), reverse=True)[:5]),
        ({"status__exact": "blocked", "o": "1"}, sorted(t.pk for t in blocked)[:5]),
    ):
        response, sqls = _queries(staff_client, TASKS, params)
        keys = [sql for sql in sqls if sql.startswith('SELECT "tasks_task"."id" AS "pk" FROM')]
        assert len(keys) == 1 and "LIMIT 5" in keys[0] and "JOIN" not in keys[0], keys
        assert [t.pk for t in response.context["cl"].result_list] == expected
        assert response.context["cl"].result_count == 7


def _leading_index_columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = %s::regclass AND am.amname = 'btree' AND i.indpred IS NULL",
            [f'"{table}"'],
        )
        return {row[0] for row in cursor.fetchall()}


def test_every_offered_sort_has_a_btree_index_in_the_database(rf, admin_user, big_tables):
    request = rf.get("/")
    request.user = admin_user
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, BigTableAdmin):
            continue
        columns = _leading_index_columns(model._meta.db_table)
        for name in model_admin.get_sortable_by(request):
            field_name = name
            attr = getattr(model_admin, name, None)
            if callable(attr) and isinstance(getattr(attr, "admin_order_field", None), str):
                field_name = attr.admin_order_field.lstrip("-")
            assert index_sortable(model, field_name)
            column = model._meta.get_field(field_name).column
            assert column in columns, f"{model._meta.label}: sort by {name} has no index"
            checked += 1
    assert checked >= 10


# --- deep pages and keyset --------------------------------------------------------------------


def _offsets(sqls) -> list[int]:
    return [int(n) for sql in sqls for n in re.findall(r"OFFSET (\d+)", sql)]


def test_deep_page_is_clamped_without_large_offset(staff_client, small_pages):
    f.TaskFactory.create_batch(30)
    response, sqls = _queries(staff_client, TASKS, {"p": "500000"})
    assert any("Numbered pages stop at 2" in m for m in _messages(response))
    assert max(_offsets(sqls), default=0) <= 10
    assert response.context["cl"].paginator.num_pages == 2
    assert response.context["cl"].keyset_next_url


def _walk(client, url, first_params) -> tuple[list[int], list[str]]:
    ids, sqls, params, seen = [], [], dict(first_params), 0
    while True:
        response, page_sqls = _queries(client, url, params)
        sqls += page_sqls
        cl = response.context["cl"]
        ids += [obj.pk for obj in cl.result_list]
        if not cl.keyset_next_url or seen > 50:
            return ids, sqls
        seen += 1
        params = dict(parse_qsl(cl.keyset_next_url.lstrip("?")))


def test_keyset_walk_returns_every_task_once_in_order(staff_client, small_pages):
    tasks = f.TaskFactory.create_batch(23)
    ids, sqls = _walk(staff_client, TASKS, {"p": "2"})
    expected = sorted((t.pk for t in tasks), reverse=True)
    assert ids == expected[5:]
    assert max(_offsets(sqls), default=0) <= 10


def test_keyset_walk_on_a_partitioned_list_with_equal_timestamps(staff_client, small_pages):
    now = timezone.now() - timedelta(hours=1)
    events = [EventFactory(created_at=now - timedelta(minutes=i // 4)) for i in range(17)]
    ids, sqls = _walk(staff_client, EVENTS, {})
    expected = [e.id for e in sorted(events, key=lambda e: (e.created_at, e.id), reverse=True)]
    assert ids == expected
    cursor_pages = [sql for sql in sqls if "events_event" in sql and "LIMIT 5" in sql]
    assert cursor_pages and max(_offsets(sqls), default=0) <= 10


@pytest.mark.parametrize("cursor", ["garbage", "1~2~3", "2026-99-99T00:00:00~5", "~", "x~1"])
def test_hostile_cursor_shows_the_first_page(staff_client, small_pages, cursor):
    f.TaskFactory.create_batch(7)
    EventFactory()
    for url in (TASKS, EVENTS):
        response, _ = _queries(staff_client, url, {"after": cursor})
        assert any("no longer applies" in m for m in _messages(response)), (url, cursor)
