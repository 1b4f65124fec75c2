from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, QuerySet

from .models import SEARCH_CONFIG, Article


def article_search(*, query: str, queryset: QuerySet[Article] | None = None) -> QuerySet[Article]:
    """Full-text search over the generated tsvector (GIN), best `ts_rank` first."""
    qs = Article.objects.all() if queryset is None else queryset
    terms = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
    return (
        qs.filter(search_vector=terms)
        .annotate(rank=SearchRank(F("search_vector"), terms))
        .order_by("-rank", "-relevance_score", "id")
    )
