from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.contrib import admin
        from django.db.models.signals import pre_migrate

        from . import checks  # noqa: F401  (registers the trigger and role checks)
        from .roles.guards import refuse_migrate_unless_owner

        pre_migrate.connect(refuse_migrate_unless_owner, dispatch_uid="flowbase-migrate-as-owner")

        admin.site.site_header = "Flowbase administration"
        admin.site.site_title = "Flowbase"
        admin.site.index_title = "Flowbase data platform"
