from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.contrib import admin

        from . import checks  # noqa: F401  (registers the trigger check)

        admin.site.site_header = "Flowbase administration"
        admin.site.site_title = "Flowbase"
        admin.site.index_title = "Flowbase data platform"
