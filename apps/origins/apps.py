import sys

from django.apps import AppConfig


def _command_from_argv(argv: list[str]) -> str:
    """`manage.py <command>` names the process's statements; other programs set their own."""
    if len(argv) > 1 and argv[0].endswith("manage.py") and not argv[1].startswith("-"):
        return argv[1]
    return ""


class OriginsConfig(AppConfig):
    name = "apps.origins"
    verbose_name = "Query origins"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import celery_hooks, context, wrapper

        context.set_process_default(command=_command_from_argv(sys.argv))
        connection_created.connect(wrapper.install, dispatch_uid="flowbase-query-origin")
        celery_hooks.connect()
