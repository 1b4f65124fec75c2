"""Knowledge-base search: prefixes, web-search syntax, bounded ranking, snippets on the page only."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.knowledge.models import Article
from apps.knowledge.search import highlighted
from apps.knowledge.selectors import article_search, article_snippets
from tests.factories.domain import ArticleFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:knowledge_article_changelist")


def _titles(query: str, **kwargs) -> list[str]:
    return [a.title for a in article_search(query=query, **kwargs)]


def test_a_word_being_typed_matches_as_a_prefix():
    ArticleFactory(title="Migration guide", content="moving tables")
    ArticleFactory(title="Cooking", content="pasta")
    assert _titles("migr") == ["Migration guide"]
    assert _titles("MIGRATIONS") == ["Migration guide"]  # stemmed, case-folded


def test_postgres_finds_postgresql():
    ArticleFactory(title="Tuning", content="PostgreSQL autovacuum settings")
    ArticleFactory(title="Other", content="MySQL settings")
    assert _titles("postgres") == ["Tuning"]


def test_web_search_syntax():
    ArticleFactory(title="Rolling deploy", content="rolling deploy with canary checks")
    ArticleFactory(title="Deploy rolling back", content="deploy then rolling back")
    ArticleFactory(title="Canary", content="rolling deploy by canary only")
    assert set(_titles('"rolling deploy"')) == {"Rolling deploy", "Canary"}
    assert _titles('"rolling deploy" -canary') == []
    assert set(_titles("canary or back")) == {"Rolling deploy", "Deploy rolling back", "Canary"}


@pytest.mark.parametrize("term", ["!!!", "'", ":*", "&|", "the", "a an", "(", "\\"])
def test_syntax_or_stop_words_alone_find_nothing_without_error(term):
    ArticleFactory(title="The deploy", content="a text")
    assert _titles(term) == []


def test_only_the_best_candidates_by_relevance_are_ranked():
    for score in (0.1, 0.2, 0.9):
        ArticleFactory(title=f"deploy {score}", content="deploy", relevance_score=score)
    ArticleFactory(title="Deploy deploy deploy", content="deploy deploy", relevance_score=0.05)
    titles = _titles("deploy", candidates=3)
    assert set(titles) == {"deploy 0.1", "deploy 0.2", "deploy 0.9"}
    # Among the candidates the text rank decides, and ties fall back to relevance.
    assert _titles("deploy", candidates=10)[0] == "Deploy deploy deploy"


def test_snippets_are_escaped_and_marked():
    article = ArticleFactory(title="x", content="deploy if a < b & c > d \ue000 now")
    snippet = article_snippets(query="deploy", article_ids=[article.pk])[article.pk]
    html = str(highlighted(snippet))
    assert "<mark>deploy</mark>" in html
    assert "&lt; b &amp; c &gt;" in html
    assert "<" not in html.replace("<mark>", "").replace("</mark>", "")
    assert "\ue000" not in html and "\ue001" not in html


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("kb", "kb@example.com", "pw"))
    return client


def test_admin_search_ranks_and_highlights_the_page_rows_only(staff_client, monkeypatch):
    monkeypatch.setattr(admin.site._registry[Article], "list_per_page", 2)
    best = ArticleFactory(title="Deploy", content="deploy deploy deploy", relevance_score=0.1)
    others = [
        ArticleFactory(title=f"Note {i}", content=f"once deploy {i}", relevance_score=0.9)
        for i in range(4)
    ]
    with CaptureQueriesContext(connection) as ctx:
        response = staff_client.get(URL, {"q": "deploy"})
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows[0].pk == best.pk  # ranked, not the default order (relevance_score first)
    assert len(rows) == 2 and {r.pk for r in rows} < {best.pk, *(o.pk for o in others)}
    assert b"<mark>deploy</mark>" in response.content
    headlines = [q["sql"] for q in ctx.captured_queries if "ts_headline" in q["sql"]]
    assert len(headlines) == 1
    ids_in = headlines[0].split(" IN (")[1].split(")")[0]
    assert len(ids_in.split(",")) == 2  # the page's two rows, not the five matches


def test_admin_numeric_search_is_still_an_id_lookup(staff_client):
    article = ArticleFactory(title="42 things", content="x")
    response = staff_client.get(URL, {"q": str(article.pk)})
    assert [r.pk for r in response.context["cl"].result_list] == [article.pk]
    assert b"<mark>" not in response.content


def test_default_order_is_served_by_an_index():
    ArticleFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = Article.objects.order_by("-relevance_score", "title", "id")[:50].explain()
    assert "article_default_order_idx" in plan and "Sort" not in plan, plan
