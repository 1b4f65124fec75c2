"""The admin's unmanaged shadow models must mirror their partitioned tables exactly."""

import pytest
from django.db import connection

from apps.audit.models import AuditEvent, AuditEventRow
from apps.events.models import Event, EventRow, PerformanceMetric, PerformanceMetricRow
from apps.runs.models import (
    FormResponse,
    FormResponseRow,
    NodeExecution,
    NodeExecutionRow,
    WorkflowRun,
    WorkflowRunRow,
)

PAIRS = [
    (Event, EventRow),
    (PerformanceMetric, PerformanceMetricRow),
    (WorkflowRun, WorkflowRunRow),
    (NodeExecution, NodeExecutionRow),
    (FormResponse, FormResponseRow),
    (AuditEvent, AuditEventRow),
]


def _columns(model) -> set[str]:
    return {f.column for f in model._meta.concrete_fields if f.column}


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "shadow"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_shadow_mirrors_the_partitioned_table(model, shadow):
    assert shadow._meta.db_table == model._meta.db_table
    assert not shadow._meta.managed and shadow._meta.pk.column == "id"
    with connection.cursor() as cursor:
        table_columns = {
            c.name
            for c in connection.introspection.get_table_description(cursor, model._meta.db_table)
        }
    assert _columns(shadow) == _columns(model) == table_columns
