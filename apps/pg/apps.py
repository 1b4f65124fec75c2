from django.apps import AppConfig


class PgConfig(AppConfig):
    name = "apps.pg"
    label = "pg"
    verbose_name = "PostgreSQL machinery"

    def ready(self) -> None:
        from .partitioning import checks  # noqa: F401  (registers the default-partition check)
