"""The psqlextra partitioning manager behind `manage.py pgpartition` (PSQLEXTRA_PARTITIONING_MANAGER).

Each app that owns partitioned models lists its configs in `<app>/partitioning.py` as
`CONFIGS = [PostgresPartitioningConfig(...), ...]`; they are collected here.
"""

import importlib

from django.apps import apps as django_apps
from psqlextra.partitioning import PostgresPartitioningManager


def collect_configs() -> list:
    configs = []
    for app_config in django_apps.get_app_configs():
        if app_config.name == "apps.pg":  # apps.pg.partitioning is this toolkit, not a config list
            continue
        try:
            module = importlib.import_module(f"{app_config.name}.partitioning")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app_config.name}.partitioning":
                raise
            continue
        configs.extend(getattr(module, "CONFIGS", []))
    return configs


manager = PostgresPartitioningManager(collect_configs())
