"""Who is erased: the person's identifiers, the stable pseudonym and the person-key hash.

The pseudonym is an HMAC of the person's primary identifier (case-folded) under
PRIVACY_PSEUDONYM_KEY (default: SECRET_KEY): the same person always gets the same `erased-<hex>`
(an erasure can be re-run, and pseudonymised rows of one person stay comparable), and nobody
without the key can go back from it to the name by trying candidate names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.utils.crypto import salted_hmac

from . import conf

PSEUDONYM_PREFIX = "erased-"
PSEUDONYM_HEX = 12
# What the database's pattern function refuses too: JSON text escapes these, so a search of a
# document's text could miss them.
_FORBIDDEN = re.compile(r'["\\\x00-\x1f\x7f]')


class ErasureError(ValueError):
    """Bad input to the erasure (unknown user, unusable identifier, incomplete erasure)."""


@dataclass(frozen=True)
class Person:
    kind: str  # "assignee" | "user"
    identifiers: tuple[str, ...]
    key_hash: str
    user_id: int | None = None

    @property
    def pseudonym(self) -> str:
        return PSEUDONYM_PREFIX + self.key_hash[:PSEUDONYM_HEX]

    def describe(self) -> dict:
        """What may be printed or stored: never the identifiers themselves."""
        data = {"kind": self.kind, "pseudonym": self.pseudonym, "key_hash": self.key_hash}
        if self.user_id is not None:
            data["account_id"] = self.user_id
        data["identifiers"] = len(self.identifiers)
        return data


def person_key_hash(primary: str) -> str:
    return salted_hmac(
        "flowbase.privacy.person",
        primary.casefold(),
        secret=conf.pseudonym_secret(),
        algorithm="sha256",
    ).hexdigest()


def clean_identifier(value: str, *, what: str) -> str:
    value = (value or "").strip()
    minimum = conf.min_identifier_length()
    if len(value) < minimum:
        raise ErasureError(
            f"{what}: {value!r} is shorter than {minimum} characters (PRIVACY_MIN_IDENTIFIER_LENGTH);"
            " so short a string would match inside unrelated words"
        )
    if len(value) > 254:
        raise ErasureError(f"{what}: longer than 254 characters")
    if _FORBIDDEN.search(value):
        raise ErasureError(f"{what}: quotes, backslashes and control characters are not supported")
    folded = value.casefold()
    if folded == PSEUDONYM_PREFIX.rstrip("-") or folded.startswith(PSEUDONYM_PREFIX):
        raise ErasureError(f"{what}: {value!r} looks like a pseudonym (already erased?)")
    return value


def _unique(values) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.casefold(), value)
    return tuple(seen.values())


def person_for_assignee(name: str, *, also: list[str] | tuple[str, ...] = ()) -> Person:
    primary = clean_identifier(name, what="--assignee")
    extra = [clean_identifier(v, what="--also") for v in also]
    return Person(
        kind="assignee",
        identifiers=_unique([primary, *extra]),
        key_hash=person_key_hash(primary),
    )


def person_for_user(
    user_id: int, *, also: list[str] | tuple[str, ...] = (), using: str = "default"
) -> Person:
    """The account's username, e-mail and full name (and `also`) are the identifiers."""
    user_model = get_user_model()
    user = user_model._default_manager.using(using).filter(pk=user_id).first()
    if user is None:
        raise ErasureError(f"--user: no user with id {user_id}")
    username = getattr(user, user_model.USERNAME_FIELD, "") or ""
    if username.startswith(PSEUDONYM_PREFIX):
        raise ErasureError(f"--user: user {user_id} is already erased ({username})")
    candidates = [
        ("username", username),
        ("email", getattr(user, "email", "") or ""),
        ("full name", user.get_full_name() if hasattr(user, "get_full_name") else ""),
    ]
    identifiers = [
        clean_identifier(value, what=f"user {user_id}'s {label}")
        for label, value in candidates
        if value.strip() and len(value.strip()) >= conf.min_identifier_length()
    ]
    identifiers += [clean_identifier(v, what="--also") for v in also]
    if not identifiers:
        raise ErasureError(f"--user: user {user_id} has no identifier to search for")
    return Person(
        kind="user",
        identifiers=_unique(identifiers),
        key_hash=person_key_hash(username or identifiers[0]),
        user_id=user.pk,
    )
