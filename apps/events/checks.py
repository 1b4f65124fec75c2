"""`manage.py check --database default` (and `migrate`) warn when a default partition holds rows."""

from __future__ import annotations

from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning

from .partitions import default_partition_report, partitioned_table_list, policy_list


@register(Tags.database)
def default_partitions_are_empty(app_configs=None, databases=None, **kwargs):
    warnings = []
    for alias in databases or ():
        existing = set(partitioned_table_list(alias))
        for config in policy_list():
            model = config.model
            table = model._meta.db_table
            if table not in existing:  # not migrated yet
                continue
            key = model._meta.get_field(model._partitioning_meta.key[0]).column
            report = default_partition_report(table, key, alias)
            if report is None or not report.rows:
                continue
            warnings.append(
                CheckWarning(
                    f"{report.partition} holds {report.rows}{'+' if report.capped else ''} row(s) "
                    f"outside every partition ({report.oldest} .. {report.newest}).",
                    hint="Create partitions for that range and move the rows; see docs/partitions.md.",
                    obj=model,
                    id="events.W001",
                )
            )
    return warnings
