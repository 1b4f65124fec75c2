"""Raw SQL kept in apps/ops/sql/ (views, archive schema), read by migrations and services.

Files are versioned (`<name>.v<N>.sql`): a migration names the exact version it applies, so
editing a view means a new file and a new migration, never a changed old one.
"""

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"


@cache
def read_sql(filename: str) -> str:
    return (SQL_DIR / filename).read_text(encoding="utf-8")
