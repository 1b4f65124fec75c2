from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from apps.pg import rowscope

        from . import request_context

        # Sent per transaction with the row scope: a session-level value left on a pooled server
        # connection (PgBouncer, transaction mode) by another client never names the actor.
        rowscope.add_transaction_settings(request_context.transaction_settings)
