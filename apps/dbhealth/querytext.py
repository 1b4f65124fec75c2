"""Query text shown to operators: literals masked. The monitor role sees every session's current
query (pg_read_all_stats); Django binds parameters client-side, so a session key, a password
reset token or an e-mail address would otherwise be on the Activity page for anyone who may
view it, and in the audit row of a cancel/terminate."""

from __future__ import annotations

import re

from pglast import parser

MASK = "'…'"
_LITERAL_TOKENS = {"SCONST", "USCONST", "BCONST", "XCONST", "FCONST", "ICONST"}
# Fallback for text the scanner refuses (truncated at track_activity_query_size mid-literal).
_QUOTED = re.compile(r"(?:[eEbBxXuU]&?)?'(?:[^']|'')*(?:'|$)|\$([A-Za-z_]*)\$.*?(?:\$\1\$|$)", re.S)
_NUMBER = re.compile(r"(?<![\w$])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b")


def mask_literals(text: str | None) -> str | None:
    if not text:
        return text
    raw = text.encode()
    try:
        tokens = parser.scan(text)
    except parser.ParseError:
        return _NUMBER.sub("0", _QUOTED.sub(MASK, text))
    out, last = [], 0
    for token in tokens:
        if token.name in _LITERAL_TOKENS:
            out.append(raw[last : token.start])
            out.append((MASK if token.name not in ("FCONST", "ICONST") else "0").encode())
            last = token.end + 1
    out.append(raw[last:])
    return b"".join(out).decode(errors="replace")
