"""Raw SQL of the privacy app, kept in apps/privacy/sql/ and read by its migrations.

Files are versioned (`<name>.v<N>.sql`): a migration names the exact version it applies."""

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"


@cache
def read_sql(filename: str) -> str:
    return (SQL_DIR / filename).read_text(encoding="utf-8")
