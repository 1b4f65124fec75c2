from django.apps import AppConfig


class SafeMigrationsConfig(AppConfig):
    name = "apps.safe_migrations"
    label = "safe_migrations"
    verbose_name = "Safe migrations"
