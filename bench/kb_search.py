"""Knowledge-base search: ILIKE (the stock admin) vs ranking every match vs ours (two-phase).

- ilike: `title ILIKE %w% OR content ILIKE %w%`, default order, plus the stock admin's COUNT(*).
- rank all: the GIN match ranked by ts_rank in full (the previous selector), capped count.
- ours: apps.knowledge.selectors.article_search (1000 best by relevance_score, then ts_rank),
  capped count, plus the page's ts_headline snippets.
- rum (with --rum; builds a RUM index for the run and drops it): `ORDER BY tsv <=> q`.
The sides rank differently by design, so the check is that each returns a full page whose every
row contains the word. Interleaved, >= 5 repetitions, p50/p95 and ilike/ours.

    python bench/kb_search.py [--articles 1000000] [--repeat 5] [--rum]
"""

from __future__ import annotations

import argparse

from _kb import kb_articles  # sets up Django first
from _setup import interleaved, percentile
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q

from apps.knowledge.models import SEARCH_CONFIG, Article
from apps.knowledge.selectors import article_search, article_snippets

PAGE = 50
CAP = 10_001
# common (half the articles), mid, rare, very rare, a prefix, a stem of a longer word
WORDS = ["deploy", "kalomi", "kalomite", "solnexpraqui", "migr", "postgres"]


def checked(rows: list[tuple[int, str, str]], word: str) -> tuple[int, bool]:
    stem = word[:5]
    return len(rows), all(stem in (t + " " + c).lower() for _, t, c in rows)


def ilike(word: str):
    qs = Article.objects.filter(Q(title__icontains=word) | Q(content__icontains=word))
    qs.count()  # the stock admin counts every match
    return checked(
        list(
            qs.order_by("-relevance_score", "title", "-id").values_list("id", "title", "content")[
                :PAGE
            ]
        ),
        word,
    )


def rank_all(word: str):
    terms = SearchQuery(f"{word}:*", search_type="raw", config=SEARCH_CONFIG)
    qs = Article.objects.filter(search_vector=terms)
    qs.order_by().values("pk")[:CAP].count()
    qs = qs.annotate(rank=SearchRank(F("search_vector"), terms)).order_by(
        "-rank", "-relevance_score", "id"
    )
    return checked(list(qs.values_list("id", "title", "content")[:PAGE]), word)


def ours(word: str):
    qs = article_search(query=word)
    qs.order_by().values("pk")[:CAP].count()
    rows = list(qs.values_list("id", "title", "content")[:PAGE])
    article_snippets(query=word, article_ids=[r[0] for r in rows])
    return checked(rows, word)


def rum(word: str):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, title, content FROM knowledge_article,"
            " to_tsquery(%s::regconfig, %s) q WHERE search_vector @@ q"
            " ORDER BY search_vector <=> q LIMIT %s",
            [SEARCH_CONFIG, f"{word}:*", PAGE],
        )
        return checked(cursor.fetchall(), word)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rum", action="store_true", help="also measure a RUM index (built here)")
    args = parser.parse_args()
    total = kb_articles(args.articles)
    sides = {"ilike": ilike, "rank all": rank_all, "ours": ours}
    if args.rum:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE INDEX IF NOT EXISTS bench_article_rum ON knowledge_article"
                " USING rum (search_vector rum_tsvector_ops)"
            )
        sides["rum"] = rum
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM knowledge_article")
            print(
                f"articles={cursor.fetchone()[0]} (bench: {total}) repeat={args.repeat} page={PAGE}"
            )
        print(
            f"{'word':<12}{'matches':>9}"
            + "".join(f"{n + ' p50':>14}{'p95':>8}" for n in sides)
            + f"{'ilike/ours':>12}"
        )
        for word in WORDS:
            matches = Article.objects.filter(
                search_vector=SearchQuery(f"{word}:*", search_type="raw", config=SEARCH_CONFIG)
            ).count()
            samples = interleaved(
                {n: (lambda f=f, w=word: f(w)) for n, f in sides.items()}, repeat=args.repeat
            )
            cells = "".join(
                f"{percentile(samples[n], 50) * 1000:>14.1f}{percentile(samples[n], 95) * 1000:>8.1f}"
                for n in sides
            )
            ratio = percentile(samples["ilike"], 50) / percentile(samples["ours"], 50)
            print(f"{word:<12}{matches:>9}{cells}{ratio:>11.1f}x", flush=True)
    finally:
        if args.rum:
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX IF EXISTS bench_article_rum")


if __name__ == "__main__":
    main()
