"""Turning what staff type into a tsquery, and highlighting matches on the page's rows.

- Web-search syntax (`"exact phrase"`, `-excluded`, `or`) goes to `websearch_to_tsquery`.
- Plain words are matched as prefixes of the stemmed words (`to_tsquery('migr:*')`), so a word
  still being typed matches (`migr` → migration) and `postgres` finds `postgresql` (the stem
  `postgr` is a prefix of it): docs/knowledge.md has the measurements behind this choice.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_TERM_CHARS = 200
MAX_WORDS = 12
WEBSEARCH_SYNTAX = re.compile(r'["]|(^|\s)-\S|(^|\s)or(\s|$)', re.IGNORECASE)
WORD = re.compile(r"[^\W_]+")  # letters and digits: nothing to_tsquery would read as syntax
# Private-use characters: never in what ts_headline gets, so never confused with the text.
MARK_START, MARK_STOP = "\ue000", "\ue001"


def article_tsquery(term: str, *, config: str) -> SearchQuery | None:
    """The tsquery of a search box entry; None when it has no word to search for."""
    term = term.strip()[:MAX_TERM_CHARS]
    if WEBSEARCH_SYNTAX.search(term):
        return SearchQuery(term, search_type="websearch", config=config)
    words = WORD.findall(term)[:MAX_WORDS]
    if not words:
        return None
    return SearchQuery(" & ".join(f"{word}:*" for word in words), search_type="raw", config=config)


def highlighted(snippet: str | None) -> SafeString:
    """ts_headline's fragment as HTML: the text escaped, the matches in <mark>."""
    text = escape((snippet or "").replace(MARK_START, "\x00").replace(MARK_STOP, "\x01"))
    text = re.sub("\x00(.*?)\x01", r"<mark>\1</mark>", text, flags=re.S)
    return mark_safe(text.replace("\x00", "").replace("\x01", ""))  # escaped above
