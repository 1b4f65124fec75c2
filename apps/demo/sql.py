"""Server-side generation (INSERT … SELECT generate_series) for the medium and large scales.

Every statement names the columns it generates; the model's other columns get their Python
default (or now() for auto timestamps), so columns other apps add later need no change here.
"""

from __future__ import annotations

from django.db import connection, connections, models

from apps.pg.bulk import orm_defaults


def insert_select(
    model: type[models.Model],
    exprs: dict[str, str],
    from_sql: str,
    params: dict | None = None,
    *,
    suffix: str = "",
) -> int:
    """INSERT INTO <model> (<exprs' columns> + defaults) SELECT <exprs> + defaults <from_sql>."""
    fill_columns, fill_values, fill_params = orm_defaults(model, given=exprs, connection=connection)
    columns = [*exprs, *fill_columns]
    values = [*exprs.values(), *fill_values]
    all_params = {**(params or {}), **fill_params}
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} {from_sql} {suffix}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        return cursor.rowcount


def execute(sql: str, params: dict | list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scalar(sql: str, params: dict | list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def pgtrigger_fast_path() -> None:
    """An empty `pgtrigger.ignore` for this transaction, unless set: pgtrigger's per-row check
    otherwise raises and rolls back a subtransaction per row and trigger (see
    apps/filestore/sql.py); no trigger is skipped."""
    execute(
        "SELECT set_config('pgtrigger.ignore', '{}', true) "
        "WHERE coalesce(current_setting('pgtrigger.ignore', true), '') = ''"
    )


def analyze(tables: list[str]) -> None:
    """ANALYZE needs the tables' owner: through the owner connection."""
    from apps.core.roles.config import owner_alias

    with connections[owner_alias()].cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")


def spread_created_at(table: str, where: str, params: dict, *, days: int = 540) -> int:
    """Move rows' created_at back over the last `days` days (18 months) so the data looks lived in."""
    return execute(
        f"UPDATE {table} SET created_at = now() - random() * make_interval(days => %(days)s) "
        f"WHERE {where}",
        {**params, "days": days},
    )
