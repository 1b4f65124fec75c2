"""Events, metrics and workflow runs spread over the last 18 months (partitioned tables).

Monthly partitions that are missing for those months are created first (same names and bounds
as the partition tooling's, so it later sees them as its own); a month whose rows would sit in
the default partition is left out. Daily metrics only go into the daily partitions that exist.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateutil.relativedelta import relativedelta
from django.db import connection

from apps.demo import content
from apps.demo.sql import execute, insert_select, scalar

MONTHS = 18
BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
SEVERITIES = ["info"] * 12 + ["debug"] * 4 + ["warning"] * 3 + ["error", "critical"]
EVENT_TYPES = [
    "task.created",
    "task.status_changed",
    "workflow.started",
    "workflow.completed",
    "build.finished",
    "deploy.finished",
    "review.requested",
    "component.heartbeat_missed",
]
# Rows in time order (g-th of n, with a few minutes of jitter): they fill one partition after the
# other and the time indexes grow at their right edge, instead of random writes all over 19
# partitions' indexes (10M events: minutes → a fraction).
SPREAD = (
    "least(%(hi)s::timestamptz - interval '1 second', %(lo)s::timestamptz "
    "+ (g::float8 / %(n)s) * (%(hi)s::timestamptz - %(lo)s::timestamptz) "
    "+ random() * interval '5 minutes')"
)
VOLUMES = {  # events, metrics, runs (3 node executions each)
    "small": (3_000, 1_500, 300),
    "medium": (1_000_000, 200_000, 20_000),
    "large": (10_000_000, 2_000_000, 200_000),
}


def partitions(table: str) -> list[tuple[datetime, datetime]]:
    """The [from, to) ranges of `table`'s non-default partitions."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table],
        )
        ranges = []
        for (bound,) in cursor.fetchall():
            match = BOUND.search(bound or "")
            if match:
                ranges.append(tuple(_ts(v) for v in match.groups()))
        return sorted(ranges)


def _ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace(" ", "T"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _create_partition(table: str, key: str, name: str, lo: datetime, hi: datetime) -> bool:
    """Partition DDL as the owner (its default privileges make it the app's at once), unless rows
    of that month sit in the default partition. Run it before the seeding transaction: DDL on a
    parent whose rows (or referenced rows) that transaction locks would wait for it forever."""
    from django.db import connections, transaction

    from apps.core.roles.config import owner_alias
    from apps.core.roles.services import relation_grants_sync

    using = owner_alias()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', '10s', true)")
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {key} >= %s AND {key} < %s)", [lo, hi]
        )
        if cursor.fetchone()[0]:
            return False
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)",
            [lo.isoformat(), hi.isoformat()],
        )
        relation_grants_sync(schema="public", name=name, using=using)
    return True


def ensure_months(table: str, key: str, *, months: int = MONTHS) -> list[tuple[datetime, datetime]]:
    """Create the missing monthly partitions of the last `months` months; returns all ranges."""
    existing = partitions(table)
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for back in range(months, -1, -1):
        lo = start - relativedelta(months=back)
        hi = lo + relativedelta(months=1)
        if any(a < hi and lo < b for a, b in existing):
            continue
        name = f"{table}_{lo.strftime('%Y_%b').lower()}"
        if not _create_partition(table, key, name, lo, hi):
            continue  # rows in the default partition: leave that month alone
        existing.append((lo, hi))
    return sorted(existing)


def _window(ranges: list[tuple[datetime, datetime]], *, months: int = MONTHS) -> tuple:
    """The most recent contiguous covered span, at most `months` long, ending no later than now."""
    now = datetime.now(UTC)
    spans: list[list[datetime]] = []
    for lo, hi in ranges:
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)
        else:
            spans.append([lo, hi])
    spans = [s for s in spans if s[0] < now]
    if not spans:
        return None
    lo, hi = spans[-1]
    hi = min(hi, now)
    return max(lo, hi - relativedelta(months=months)), hi


def timeseries_partitions() -> None:
    """The monthly partitions the time series need, created (as the owner) before the seeding
    transaction starts: DDL on a parent whose rows that transaction already locks would wait
    for it forever."""
    from apps.events.models import Event
    from apps.runs.models import NodeExecution, WorkflowRun

    ensure_months(Event._meta.db_table, "created_at")
    ensure_months(WorkflowRun._meta.db_table, "started_at")
    ensure_months(NodeExecution._meta.db_table, "started_at")


def demo_project_ids(limit: int = 200) -> list[int]:
    from apps.projects.models import Project

    return list(
        Project.objects.filter(settings__has_key="demo")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def timeseries_seed(scale: str, *, log=print) -> dict[str, int]:
    from apps.events.models import Event, PerformanceMetric
    from apps.runs.models import NodeExecution, WorkflowRun

    n_events, n_metrics, n_runs = VOLUMES[scale]
    counts: dict[str, int] = {}
    demo = {"scale": scale}
    window = _window(ensure_months(Event._meta.db_table, "created_at"))
    project_ids = demo_project_ids()
    if window and project_ids:
        counts["events"] = insert_select(
            Event,
            {
                "created_at": SPREAD,
                "event_type": f"(%(types)s::text[])[1 + g %% {len(EVENT_TYPES)}]",
                # A stride coprime to the list's length visits every severity.
                "severity": f"(%(severities)s::text[])[1 + (g * 5) %% {len(SEVERITIES)}]",
                "project_id": "(%(projects)s::bigint[])[1 + (g / 3) %% %(n_projects)s]",
                "source_component": f"(%(components)s::text[])[1 + g %% {len(content.COMPONENTS)}]",
                "payload": "jsonb_build_object('demo', %(scale)s::text, 'seq', g)",
                "correlation_id": "md5(g::text)",
            },
            "FROM generate_series(1, %(n)s) g",
            {
                **demo,
                "n": n_events,
                "lo": window[0],
                "hi": window[1],
                "types": EVENT_TYPES,
                "severities": SEVERITIES,
                "projects": project_ids,
                "n_projects": len(project_ids),
                "components": [c[0] for c in content.COMPONENTS],
            },
        )
        log(f"  events: {counts['events']} from {window[0]:%Y-%m-%d} to {window[1]:%Y-%m-%d}")
    metric_window = _window(partitions(PerformanceMetric._meta.db_table))
    if metric_window:
        counts["metrics"] = insert_select(
            PerformanceMetric,
            {
                "recorded_at": SPREAD,
                "component": f"(%(components)s::text[])[1 + g %% {len(content.COMPONENTS)}]",
                "metric_name": "(ARRAY['latency_ms','cpu_pct','queue_depth','error_rate'])[1 + g %% 4]",
                "value": "round((random() * 100)::numeric, 2)::float",
                "unit": "(ARRAY['ms','%%','count','%%'])[1 + g %% 4]",
                "tags": "jsonb_build_object('demo', %(scale)s::text)",
            },
            "FROM generate_series(1, %(n)s) g",
            {
                **demo,
                "n": n_metrics,
                "lo": metric_window[0],
                "hi": metric_window[1],
                "components": [c[0] for c in content.COMPONENTS],
            },
        )
        log(f"  metrics: {counts['metrics']} (existing daily partitions only)")
    run_window = _window(ensure_months(WorkflowRun._meta.db_table, "started_at"))
    ensure_months(NodeExecution._meta.db_table, "started_at")
    if run_window:
        counts["runs"] = insert_select(
            WorkflowRun,
            {
                "workflow_id": "w.id",
                "started_at": "x.started_at",
                "status": "x.status",
                "completed_at": "CASE WHEN x.status IN ('succeeded','failed','cancelled') "
                "THEN x.started_at + x.took END",
                "duration_ms": "CASE WHEN x.status IN ('succeeded','failed','cancelled') "
                "THEN (extract(epoch FROM x.took) * 1000)::bigint END",
                "trigger_data": "jsonb_build_object('demo', %(scale)s::text, 'source', 'cron')",
                "error": "CASE WHEN x.status = 'failed' THEN 'HTTP 502 from deploy target' "
                "ELSE '' END",
            },
            "FROM (SELECT g, %(lo)s::timestamptz + random() * (%(hi)s::timestamptz - "
            "%(lo)s::timestamptz - interval '1 hour') AS started_at, "
            "(ARRAY['succeeded','succeeded','succeeded','succeeded','failed','cancelled'])"
            "[1 + g %% 6] AS status, random() * interval '20 minutes' AS took "
            "FROM generate_series(1, %(n)s) g) x "
            "JOIN LATERAL (SELECT id FROM workflows_workflow WHERE node_count > 0 "
            "ORDER BY id OFFSET (x.g %% GREATEST(1, (SELECT count(*) FROM workflows_workflow "
            "WHERE node_count > 0))) LIMIT 1) w ON true",
            {**demo, "n": n_runs, "lo": run_window[0], "hi": run_window[1]},
        )
        counts["node_executions"] = insert_select(
            NodeExecution,
            {
                "run_id": "r.id",
                "run_started_at": "r.started_at",
                "started_at": "r.started_at + (s - 1) * interval '2 seconds'",
                "node_id": "'node-' || s",
                "node_type": "(ARRAY['n8n-nodes-base.cron','n8n-nodes-base.httpRequest',"
                "'n8n-nodes-base.slack'])[s]",
                "status": "CASE WHEN r.status = 'succeeded' THEN 'succeeded' "
                "WHEN s = 3 THEN 'failed' ELSE 'succeeded' END",
                "completed_at": "r.started_at + s * interval '2 seconds'",
                "duration_ms": "2000",
                "input": "jsonb_build_object('demo', %(scale)s::text)",
            },
            "FROM runs_workflowrun r CROSS JOIN generate_series(1, 3) s "
            "WHERE r.trigger_data->>'demo' = %(scale)s AND r.status IN ('succeeded','failed')",
            demo,
        )
        log(f"  runs: {counts['runs']}, node executions: {counts['node_executions']}")
    return counts


# Where each time series marks its demo rows (a `demo` key in a JSON column).
DEMO_MARKS = (  # (label, table, column)
    ("events", "events_event", "payload"),
    ("metrics", "events_performancemetric", "tags"),
    ("node executions", "runs_nodeexecution", "input"),
    ("runs", "runs_workflowrun", "trigger_data"),
)


def timeseries_counts() -> dict[str, int]:
    return {
        label: scalar(f"SELECT count(*) FROM {table} WHERE {column} ? 'demo'")
        for label, table, column in DEMO_MARKS
    }


def timeseries_reset() -> None:
    for _label, table, column in DEMO_MARKS:
        execute(f"DELETE FROM {table} WHERE {column} ? 'demo'")
