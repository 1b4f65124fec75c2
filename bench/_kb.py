"""Knowledge-base articles at scale for the benchmarks: generated inside PostgreSQL.

Words are drawn log-uniformly from a vocabulary (a few hundred technical words at the head, a
long tail of made-up ones), so the head words match a large share of the articles — the case
where ranking every match is slow — and tail words are rare.
"""

from __future__ import annotations

import itertools
import time

from django.db import connection, transaction

SLUG_PREFIX = "bench-kb-"
HEAD = [
    "postgresql",
    "database",
    "index",
    "query",
    "migration",
    "deploy",
    "pipeline",
    "runner",
    "cache",
    "queue",
    "worker",
    "release",
    "rollback",
    "branch",
    "review",
    "test",
    "coverage",
    "latency",
    "throughput",
    "partition",
    "vacuum",
    "replica",
    "backup",
    "restore",
    "schema",
    "table",
    "column",
    "trigger",
    "function",
    "service",
    "gateway",
    "token",
    "secret",
    "rotate",
    "kubernetes",
    "container",
    "image",
    "registry",
    "build",
    "artifact",
    "monitor",
    "alert",
    "metric",
    "trace",
    "log",
    "error",
    "timeout",
    "retry",
    "lock",
    "deadlock",
    "transaction",
    "commit",
    "snapshot",
    "isolation",
    "upgrade",
    "config",
    "network",
    "storage",
    "volume",
    "cluster",
    "node",
    "scheduler",
    "cron",
    "webhook",
    "event",
    "stream",
    "batch",
    "import",
    "export",
]
SYLLABLES = ["ka", "lo", "mi", "ru", "te", "vo", "zen", "pra", "qui", "sol", "tar", "nex"]


def vocabulary(size: int = 20_000) -> list[str]:
    tail = ("".join(p) for n in (3, 4) for p in itertools.product(SYLLABLES, repeat=n))
    return HEAD + list(itertools.islice(tail, size - len(HEAD)))


GENERATE = """
INSERT INTO knowledge_article (created_at, updated_at, title, slug, content, content_type, tags,
                               relevance_score, access_count)
SELECT now(), now(), t.title, %(prefix)s || (%(start)s + g), t.body, 'markdown', '{}',
       round(random()::numeric, 3), 0
FROM generate_series(1, %(rows)s) g
CROSS JOIN LATERAL (
  SELECT initcap(string_agg(w, ' ') FILTER (WHERE i <= 5)) AS title,
         string_agg(w, ' ') AS body
  FROM (SELECT i, (%(words)s::text[])[1 + floor(exp(random() * ln(%(n)s)))::int - 1] AS w
          -- `g` in the bounds makes the subquery correlated: evaluated per article, not once.
          FROM generate_series(1, 40 + g %% 3 - g %% 3) i) words
) t
"""


def kb_articles(count: int, log=print) -> int:
    """Make sure `count` bench articles exist (adds the missing ones); returns the total."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM knowledge_article WHERE slug LIKE %s", [SLUG_PREFIX + "%"]
        )
        have = cursor.fetchone()[0]
        if have >= count:
            return have
        words = vocabulary()
        started = time.perf_counter()
        step = 100_000
        for start in range(have, count, step):
            rows = min(step, count - start)
            # The audit capture would log every insert: off for the load, inside the batch's
            # transaction (a killed load cannot leave the triggers disabled).
            with transaction.atomic():
                cursor.execute("ALTER TABLE knowledge_article DISABLE TRIGGER USER")
                cursor.execute(
                    GENERATE,
                    {
                        "prefix": SLUG_PREFIX,
                        "start": start,
                        "rows": rows,
                        "words": words,
                        "n": len(words) + 1,
                    },
                )
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks at ENABLE
                cursor.execute("ALTER TABLE knowledge_article ENABLE TRIGGER USER")
            log(f"  articles: {start + rows}/{count} ({time.perf_counter() - started:.0f} s)")
        cursor.execute("ANALYZE knowledge_article")
    return count
