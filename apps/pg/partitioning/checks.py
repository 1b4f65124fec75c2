"""`manage.py check --database default` (and `migrate`) warn when a default partition holds rows."""

from __future__ import annotations

from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning

from .reports import default_partition_alarms


@register(Tags.database)
def default_partitions_are_empty(app_configs=None, databases=None, **kwargs):
    return [
        CheckWarning(
            f"{report.message()}.",
            hint="Create partitions for that range and move the rows; see docs/partitions.md.",
            obj=model,
            id="events.W001",  # its id from when it lived in apps.events (silenced lists name it)
        )
        for alias in databases or ()
        for model, report in default_partition_alarms(alias, only_existing=True)
    ]
