from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "apps.access"
    label = "access"
    verbose_name = "Project access"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from . import checks, middleware  # noqa: F401  (checks: registers the RLS check)

        request_finished.connect(middleware.end_of_request, dispatch_uid="flowbase-row-scope-end")
