from __future__ import annotations

from collections.abc import Iterable

from django.contrib.postgres.search import SearchHeadline, SearchRank
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Replace

from .models import SEARCH_CONFIG, Article
from .search import MARK_START, MARK_STOP, article_tsquery

# Phase one keeps this many matches (by the curated relevance_score, an index walk); phase two
# ranks only those by ts_rank. So a search costs about the same for a word in half the articles
# as for a rare one (docs/knowledge.md: the measurements, and why not RUM).
RANKED_CANDIDATES = 1000


def article_search(
    *, query: str, queryset: QuerySet[Article] | None = None, candidates: int = RANKED_CANDIDATES
) -> QuerySet[Article]:
    """Full-text search over the generated tsvector: the best `candidates` matches by
    relevance_score, ranked by `ts_rank` (then relevance_score, then id)."""
    qs = Article.objects.all() if queryset is None else queryset
    terms = article_tsquery(query, config=SEARCH_CONFIG)
    if terms is None:
        return qs.none()
    # Fetched once, then passed as one array: as a subquery the changelist's count and page
    # each walked the candidates again, and as `pk__in` a list costs one parameter per id.
    best = list(
        qs.filter(search_vector=terms)
        .order_by("-relevance_score", "title", "id")
        .values_list("pk", flat=True)[:candidates]
    )
    return (
        qs.filter(pk__any=best)
        .annotate(rank=SearchRank(F("search_vector"), terms))
        .order_by("-rank", "-relevance_score", "id")
    )


def article_snippets(*, query: str, article_ids: Iterable[int]) -> dict[int, str]:
    """ts_headline fragments of the given articles only (the page's rows), matches marked with
    MARK_START/MARK_STOP."""
    ids = list(article_ids)
    terms = article_tsquery(query, config=SEARCH_CONFIG)
    if terms is None or not ids:
        return {}
    content = Replace(Replace("content", Value(MARK_START)), Value(MARK_STOP))
    rows = Article.objects.filter(pk__in=ids).annotate(
        snippet=SearchHeadline(
            content,
            terms,
            config=SEARCH_CONFIG,
            start_sel=MARK_START,
            stop_sel=MARK_STOP,
            max_words=24,
            min_words=10,
        )
    )
    return dict(rows.values_list("pk", "snippet"))
