import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.knowledge.models import Article
from apps.knowledge.selectors import article_search
from apps.knowledge.services import article_record_access, article_save
from tests.factories.domain import ProjectFactory

pytestmark = pytest.mark.django_db


def test_article_save_upserts_by_project_and_slug():
    project = ProjectFactory()
    first = article_save(title="Deploying", content="blue green", project=project)
    again = article_save(title="Deploying", content="canary", project=project)
    assert first.pk == again.pk
    assert Article.objects.get().content == "canary"


def test_article_save_bad_content_type_writes_nothing():
    with pytest.raises(ValidationError, match="content_type"):
        article_save(title="x", content="y", content_type="pdf")
    assert not Article.objects.exists()


def test_search_ranks_title_matches_above_content_matches():
    article_save(title="Kubernetes rollouts", content="How to deploy pods safely.")
    article_save(title="Release notes", content="We mention kubernetes once.")
    article_save(title="Unrelated", content="Nothing here.")
    titles = [a.title for a in article_search(query="kubernetes")]
    assert titles == ["Kubernetes rollouts", "Release notes"]


def test_search_uses_the_gin_index():
    for i in range(200):
        Article.objects.create(title=f"note {i}", slug=f"n{i}", content="filler text")
    article_save(title="Observability", content="tracing")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledge_article")
        cursor.execute("SET LOCAL enable_seqscan = off")
        with CaptureQueriesContext(connection) as phase_one:  # the candidates, fetched once
            article_search(query="observability")
        cursor.execute("EXPLAIN " + phase_one.captured_queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "article_search_gin" in plan


def test_article_record_access_counts():
    article = article_save(title="x", content="y")
    article_record_access(article_id=article.pk)
    article.refresh_from_db()
    assert article.access_count == 1 and article.last_accessed_at is not None
