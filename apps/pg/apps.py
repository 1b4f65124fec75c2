from django.apps import AppConfig


class PgConfig(AppConfig):
    name = "apps.pg"
    label = "pg"
    verbose_name = "PostgreSQL machinery"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import lookups, rowscope  # noqa: F401  (lookups: registers field__any)
        from .partitioning import checks  # noqa: F401  (registers the default-partition check)

        connection_created.connect(rowscope.install, dispatch_uid="flowbase-row-scope")
