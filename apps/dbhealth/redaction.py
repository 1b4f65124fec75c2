"""Failing-row samples are redacted before they are stored: values of columns (and JSON keys)
whose names look sensitive, and values that look like password hashes or tokens whatever
their column is called. The name list is `DBHEALTH["DQ_SENSITIVE_COLUMNS"]`."""

from __future__ import annotations

import json
import re
from typing import Any

from . import conf

REDACTED = "[redacted]"
_TOKENS = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Django's password hashes, bcrypt/crypt hashes, JWTs, long hex digests.
_SECRET_VALUE = re.compile(
    r"^(?:(?:pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|sha1|md5|unsalted_md5|"
    r"unsalted_sha1|crypt)\$.+|\$2[aby]?\$\d\d\$.{53}|\$(?:1|5|6|argon2id?)\$.+|"
    r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+|SCRAM-SHA-256\$.+)$",
    re.S,
)


def is_sensitive_name(name: str) -> bool:
    patterns = [p.lower() for p in conf.get("DQ_SENSITIVE_COLUMNS")]
    text = _CAMEL.sub("_", str(name)).lower()
    tokens = set(_TOKENS.findall(text))
    compact = "".join(_TOKENS.findall(text))
    return any(p in tokens or (len(p) >= 5 and p.replace("_", "") in compact) for p in patterns)


def redact(value: Any, *, key: str | None = None) -> Any:
    if key is not None and is_sensitive_name(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        text = value.strip()
        if _SECRET_VALUE.match(text):
            return REDACTED
        if text[:1] in "{[":  # json/jsonb columns arrive as text
            try:
                parsed = json.loads(text)
            except ValueError:
                return value
            redacted = redact(parsed)
            return redacted if redacted != parsed else value
    return value


def redact_rows(rows: list[dict]) -> list[dict]:
    return [redact(row) for row in rows]
