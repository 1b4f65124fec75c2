from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from apps.core.services import require_choice, validated_save
from apps.projects.models import Project

from .models import Article, ContentType


@transaction.atomic
def article_save(
    *,
    title: str,
    content: str,
    content_type: str = ContentType.MARKDOWN,
    project: Project | None = None,
    tags: list[str] | None = None,
    slug: str | None = None,
    relevance_score: float = 0.0,
) -> Article:
    """Create or update the article (project, slug)."""
    require_choice(content_type, ContentType, what=f"Article {title!r}: content_type")
    slug = slug or slugify(title)[:255]
    article = Article.objects.filter(project=project, slug=slug).first() or Article(
        project=project, slug=slug
    )
    article.title = (title or "").strip()
    article.content = content
    article.content_type = content_type
    article.tags = list(tags or [])
    article.relevance_score = relevance_score
    return validated_save(article, label=f"Article {title!r}")


def article_record_access(*, article_id: int) -> None:
    Article.objects.filter(pk=article_id).update(
        access_count=F("access_count") + 1, last_accessed_at=timezone.now()
    )
