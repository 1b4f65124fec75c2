from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "apps.events"
    label = "events"
    verbose_name = "Events and metrics"

    def ready(self) -> None:
        from apps.pg.partitioning.signals import partition_detached

        from . import models, services

        # A detached partition's hours leave the chart's roll-up in the same transaction.
        partition_detached.connect(
            services.event_counts_forget, sender=models.Event, dispatch_uid="event_counts_forget"
        )
