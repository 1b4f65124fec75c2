from django.apps import AppConfig


class SafeMigrationsConfig(AppConfig):
    name = "apps.safe_migrations"
    label = "safe_migrations"
    verbose_name = "Safe migrations"

    def ready(self) -> None:
        from django.db.models.signals import pre_migrate

        from .lock_timeout import set_migration_lock_timeout

        pre_migrate.connect(
            set_migration_lock_timeout, dispatch_uid="flowbase-migrate-lock-timeout"
        )
