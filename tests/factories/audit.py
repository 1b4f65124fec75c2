import factory
from django.utils import timezone

from apps.audit.models import AuditAction, AuditEvent


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditEvent

    table_name = "tasks_task"
    row_pk = factory.Sequence(str)
    action = AuditAction.UPDATE
    changes = factory.LazyFunction(lambda: {"status": {"old": "pending", "new": "done"}})
    request_id = factory.Sequence(lambda n: f"req-{n}")
    created_at = factory.LazyFunction(timezone.now)
