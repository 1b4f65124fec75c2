"""Partitioning policies of the runs app (collected by apps.pg.partitioning.manager)."""

from dateutil.relativedelta import relativedelta

from apps.pg.partitioning import PartitionPolicy

from .models import FormResponse, NodeExecution, WorkflowRun

# Run history is read for weeks (dashboards, retries) and audited for a year.
RUNS_RETENTION = relativedelta(months=13)

CONFIGS = [
    PartitionPolicy(model, unit="months", ahead=3, retention=RUNS_RETENTION)
    for model in (WorkflowRun, NodeExecution, FormResponse)
]
