from django.apps import AppConfig


class DbhealthConfig(AppConfig):
    name = "apps.dbhealth"
    label = "dbhealth"
    verbose_name = "Database"

    def ready(self) -> None:
        from . import metrics

        metrics.register()
