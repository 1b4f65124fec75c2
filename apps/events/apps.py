from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "apps.events"
    label = "events"
    verbose_name = "Events and metrics"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the default-partition check)
