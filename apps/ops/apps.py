from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Registers the dashboard cache counters, so /metrics shows them from the first scrape.
        from . import cache  # noqa: F401
