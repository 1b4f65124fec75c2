from django.apps import AppConfig


class BlueprintsConfig(AppConfig):
    name = "apps.blueprints"
    label = "blueprints"
    verbose_name = "Templates"
