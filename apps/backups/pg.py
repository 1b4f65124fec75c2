"""The PostgreSQL client tools and the connection they use: the owner's login, as the Django
alias names it, without a statement timeout (a dump may take longer than any query should)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.db import connections

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BackupError(Exception):
    """A backup, restore or verification that cannot go on; the message says why."""


@dataclass(frozen=True)
class Target:
    host: str
    port: str
    user: str
    password: str
    dbname: str
    options: str  # libpq `options`: `-c role=…` and the like, statement_timeout removed
    # An HA pair's multi-host URL says which host to take (read-write): without it pg_dump and
    # a restore would take whichever host answers first, the standby included.
    session_attrs: str = ""

    def env(self, dbname: str | None = None) -> dict[str, str]:
        """Environment for pg_dump/pg_restore: credentials never appear on a command line."""
        out = {
            **os.environ,
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGUSER": self.user,
            "PGDATABASE": dbname or self.dbname,
            "PGOPTIONS": self.options,
            "PGCONNECT_TIMEOUT": "10",
        }
        if self.password:
            out["PGPASSWORD"] = self.password
        else:
            out.pop("PGPASSWORD", None)
        if self.session_attrs:
            out["PGTARGETSESSIONATTRS"] = self.session_attrs
        else:
            out.pop("PGTARGETSESSIONATTRS", None)
        return out

    def connect(self, dbname: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname or self.dbname,
            options=self.options,
            autocommit=autocommit,
            connect_timeout=10,
            **({"target_session_attrs": self.session_attrs} if self.session_attrs else {}),
        )


def target(using: str = "owner") -> Target:
    settings_dict = connections[using].settings_dict
    given = settings_dict.get("OPTIONS", {})
    options = given.get("options", "")
    kept = [
        opt
        for opt in re.findall(r"-c\s+\S+", options)
        if not opt.split(None, 1)[1].startswith("statement_timeout=")
    ]
    return Target(
        host=str(settings_dict.get("HOST") or ""),
        port=str(settings_dict.get("PORT") or "5432"),
        user=str(settings_dict.get("USER") or ""),
        password=str(settings_dict.get("PASSWORD") or ""),
        dbname=settings_dict["NAME"],
        options=" ".join([*kept, "-c statement_timeout=0"]),
        session_attrs=str(given.get("target_session_attrs") or ""),
    )


def binary(name: str, *, major: int | None = None) -> str:
    """pg_dump & co. of the server's major version if installed (Debian keeps one bin directory
    per version), else the newest installed, else the PATH's."""
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
        )
        preferred = [root / str(major)] if major else []
        for directory in [*preferred, *reversed(versions)]:
            candidate = directory / "bin" / name
            if candidate.exists():
                return str(candidate)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return found


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_database_name(name: str) -> str:
    if not IDENTIFIER.match(name or ""):
        raise BackupError(
            f"database name {name!r}: use 1-63 lower-case letters, digits or underscores"
        )
    return name
