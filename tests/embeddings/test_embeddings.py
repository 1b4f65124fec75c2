"""Embedding metadata: recording, staleness by trigger and by recheck, usage, admin, command."""

from __future__ import annotations

import hashlib
import io
import json

import pgtrigger
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from apps.embeddings import selectors, services
from apps.embeddings.models import Embedding
from apps.embeddings.sources import SOURCES, EntityType
from apps.knowledge.models import Article
from apps.tasks.models import Task
from tests.factories import domain as f

pytestmark = pytest.mark.django_db


def record(obj, entity_type, *, namespace="docs", model="text-embedding-3-small", **kw):
    return services.embedding_record(
        entity_type=entity_type,
        entity_id=obj.pk,
        provider=kw.pop("provider", "openai"),
        model_name=model,
        namespace=namespace,
        dimension=kw.pop("dimension", 1536),
        external_id=kw.pop("external_id", f"{entity_type}:{obj.pk}:{namespace}:{model}"),
        **kw,
    )


def test_the_sql_hash_is_sha256_of_the_embedded_fields():
    article = f.ArticleFactory(title="Rollouts", content="Use canaries.")
    expected = hashlib.sha256(b"Rollouts\x1fUse canaries.").hexdigest()
    assert (
        selectors.source_content_hash(entity_type=EntityType.ARTICLE, entity_id=article.pk)
        == expected
    )
    assert record(article, EntityType.ARTICLE).content_hash == expected


def test_an_edit_of_embedded_text_marks_stale_and_undoing_it_marks_fresh():
    article = f.ArticleFactory(title="Rollouts", content="Use canaries.")
    row = record(article, EntityType.ARTICLE)
    other = record(article, EntityType.ARTICLE, namespace="other")
    Article.objects.filter(pk=article.pk).update(relevance_score=0.5, access_count=3)
    row.refresh_from_db()
    assert row.stale_since is None  # not an embedded field

    Article.objects.filter(pk=article.pk).update(content="Use blue/green.")
    row.refresh_from_db()
    other.refresh_from_db()
    assert row.stale_reason == other.stale_reason == "content_changed"
    assert row.stale_since is not None
    first_seen = row.stale_since

    Article.objects.filter(pk=article.pk).update(content="Use feature flags.")
    row.refresh_from_db()
    assert row.stale_since == first_seen  # stale since the first change

    Article.objects.filter(pk=article.pk).update(content="Use canaries.")
    row.refresh_from_db()
    assert (row.stale_since, row.stale_reason) == (None, "")


def test_re_recording_after_re_embedding_is_fresh_and_keeps_usage():
    task = f.TaskFactory(title="Build", description="make all")
    row = record(task, EntityType.TASK)
    services.embedding_usage_record(
        provider="openai", namespace="docs", external_ids=[row.external_id]
    )
    Task.objects.filter(pk=task.pk).update(description="make test")
    row = record(task, EntityType.TASK, external_id="v2")
    assert (row.stale_reason, row.external_id, row.usage_count) == ("", "v2", 1)
    assert Embedding.objects.filter(entity_type=EntityType.TASK, entity_id=task.pk).count() == 1


def test_a_hash_other_than_the_current_content_is_stale_at_once():
    task = f.TaskFactory()
    row = record(task, EntityType.TASK, content_hash="a" * 64)
    assert row.stale_reason == "content_changed"


def test_deleting_a_source_orphans_its_embeddings_and_restoring_it_re_evaluates():
    task = f.TaskFactory(title="Keep")
    row = record(task, EntityType.TASK)
    Task.objects.filter(pk=task.pk).delete()
    row.refresh_from_db()
    assert row.stale_reason == "source_deleted"
    assert list(selectors.orphaned_embeddings()) == [row]
    # Put it back under its old id (what an archive restore does).
    fields = {f.attname: getattr(task, f.attname) for f in Task._meta.concrete_fields}
    Task(**fields).save(force_insert=True)
    row.refresh_from_db()
    assert (row.stale_reason, row.stale_since) == ("", None)


def test_usage_is_counted_per_hit_and_last_used_only_moves_forward():
    article = f.ArticleFactory()
    row = record(article, EntityType.ARTICLE)
    from django.utils import timezone

    late = timezone.now()
    early = late.replace(year=late.year - 1)
    assert (
        services.embedding_usage_record(
            provider="openai", namespace="docs", external_ids=[row.external_id, "unknown"], at=late
        )
        == 1
    )
    services.embedding_usage_record(
        provider="openai", namespace="docs", external_ids=[row.external_id], at=early
    )
    row.refresh_from_db()
    assert (row.usage_count, row.last_used_at) == (2, late)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dimension": 0}, "dimension"),
        ({"content_hash": "xyz"}, "sha256"),
        ({"provider": "\x00"}, "provider"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    article = f.ArticleFactory()
    with pytest.raises(ValidationError, match=message):
        record(article, EntityType.ARTICLE, **kwargs)


def test_unknown_source_and_missing_row_are_refused():
    with pytest.raises(ValidationError, match="unknown entity type"):
        services.embedding_record(
            entity_type="projects.project",
            entity_id=1,
            provider="p",
            model_name="m",
            namespace="n",
            dimension=3,
            external_id="x",
        )
    with pytest.raises(ValidationError, match="does not exist"):
        services.embedding_record(
            entity_type=EntityType.TASK,
            entity_id=987654321,
            provider="p",
            model_name="m",
            namespace="n",
            dimension=3,
            external_id="x",
        )


def test_the_database_enforces_the_rules():
    article = f.ArticleFactory()
    row = record(article, EntityType.ARTICLE)
    for change, name in [
        ({"entity_type": "projects.project"}, "embedding_entity_type_valid"),
        ({"stale_reason": "content_changed"}, "embedding_stale_pair"),
        ({"content_hash": "nothex"}, "embedding_content_hash_sha256"),
        ({"dimension": 0}, "embedding_dimension_range"),
    ]:
        with pytest.raises(IntegrityError, match=name), transaction.atomic():
            Embedding.objects.filter(pk=row.pk).update(**change)
    twin = Embedding(
        **{
            f.attname: getattr(row, f.attname)
            for f in Embedding._meta.concrete_fields
            if f.attname not in ("id", "chunk")
        },
        chunk=1,
    )
    with pytest.raises(IntegrityError, match="embedding_external_id_unique"), transaction.atomic():
        twin.save()


def test_recheck_catches_what_the_triggers_could_not_see():
    article = f.ArticleFactory(content="one")
    task = f.TaskFactory()
    stale_row = record(article, EntityType.ARTICLE)
    orphan_row = record(task, EntityType.TASK)
    with pgtrigger.ignore(
        "embeddings.ArticleEmbeddingSource:embeddings_content_changed",
        "embeddings.TaskEmbeddingSource:embeddings_source_deleted",
    ):
        Article.objects.filter(pk=article.pk).update(content="two")
        Task.objects.filter(pk=task.pk).delete()
    assert selectors.stale_embeddings().count() == 0
    dry = services.embeddings_recheck()
    assert (dry["newly_stale"], dry["newly_orphaned"], dry["updated"]) == (1, 1, 0)
    assert selectors.stale_embeddings().count() == 0
    done = services.embeddings_recheck(apply=True)
    assert done["updated"] == 2
    stale_row.refresh_from_db()
    orphan_row.refresh_from_db()
    assert (stale_row.stale_reason, orphan_row.stale_reason) == (
        "content_changed",
        "source_deleted",
    )
    assert services.embeddings_recheck(apply=True)["updated"] == 0  # idempotent


def test_usage_summary_per_group_is_capped():
    articles = f.ArticleFactory.create_batch(3)
    for a in articles:
        record(a, EntityType.ARTICLE)
        record(a, EntityType.ARTICLE, provider="cohere", model="embed-v3")
    Article.objects.filter(pk=articles[0].pk).update(title="changed")
    services.embedding_usage_record(
        provider="cohere",
        namespace="docs",
        external_ids=[f"knowledge.article:{articles[1].pk}:docs:embed-v3"],
    )
    summary = {(g.provider, g.model_name): g for g in selectors.embedding_usage_summary()}
    assert set(summary) == {("cohere", "embed-v3"), ("openai", "text-embedding-3-small")}
    cohere = summary[("cohere", "embed-v3")]
    assert (cohere.count, cohere.stale, cohere.capped) == (3, 1, False)
    assert cohere.last_used_at is not None
    assert summary[("openai", "text-embedding-3-small")].last_used_at is None
    capped = selectors.embedding_usage_summary(cap=2)
    assert all(g.count == 2 and g.capped for g in capped)


def test_embeddings_stale_command(capsys):
    article = f.ArticleFactory()
    record(article, EntityType.ARTICLE)
    Article.objects.filter(pk=article.pk).update(content="new text")
    out = io.StringIO()
    call_command("embeddings_stale", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["groups"][0]["stale"] == 1
    assert data["stale"][0]["entity_id"] == article.pk
    out = io.StringIO()
    call_command("embeddings_stale", "--recheck", stdout=out)
    assert "would mark 0 stale" in out.getvalue() and "1 stale" in out.getvalue()
    with pytest.raises(CommandError, match="--apply only goes with --recheck"):
        call_command("embeddings_stale", "--apply")


def test_admin_changelist_with_summary_is_bounded(admin_client, django_assert_max_num_queries):
    for a in f.ArticleFactory.create_batch(5):
        record(a, EntityType.ARTICLE)
    url = reverse("admin:embeddings_embedding_changelist")
    with django_assert_max_num_queries(8):
        response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Usage per provider, namespace and model" in body and "text-embedding-3-small" in body
    for a in f.ArticleFactory.create_batch(20):
        record(a, EntityType.ARTICLE, namespace=f"ns{a.pk}")
    with django_assert_max_num_queries(8):
        assert admin_client.get(url).status_code == 200
    group = admin_client.get(
        url, {"provider": "openai", "namespace": "docs", "model_name": "text-embedding-3-small"}
    )
    assert group.status_code == 200
    search = admin_client.get(
        url, {"q": f"knowledge.article:{a.pk}:ns{a.pk}:text-embedding-3-small"}
    )
    assert search.status_code == 200 and search.context["cl"].result_count == 1


def test_triggers_are_installed_on_the_source_tables():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgname LIKE 'pgtrigger_embeddings_%' GROUP BY 1"
        )
        found = dict(cursor.fetchall())
    assert found == {s.model._meta.db_table: 3 for s in SOURCES.values()}


def test_delete_forgets_only_the_named_vectors_of_one_store():
    task, other = f.TaskFactory(), f.TaskFactory()
    gone = record(task, EntityType.TASK)
    kept = record(other, EntityType.TASK)
    elsewhere = record(task, EntityType.TASK, namespace="code")
    deleted = services.embedding_delete(
        provider="openai", namespace="docs", external_ids=[gone.external_id, elsewhere.external_id]
    )
    assert deleted == 1
    remaining = set(Embedding.objects.values_list("pk", flat=True))
    assert remaining == {kept.pk, elsewhere.pk}
