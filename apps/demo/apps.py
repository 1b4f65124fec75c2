from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo and scale data (`seed_demo`). It may import every app; no app imports it."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo data"
