import json

from django.core.management.base import BaseCommand, CommandError

from apps.ops import services


class Command(BaseCommand):
    help = (
        "Maintenance: ANALYZE stale tables (partitions and partitioned parents), log retention, "
        "partition premake, VACUUM report (never VACUUM FULL). Dry run unless --apply."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the step records as JSON"
        )
        parser.add_argument(
            "--step",
            action="append",
            choices=services.MAINTENANCE_STEPS,
            dest="steps",
            help="run only this step (repeatable)",
        )

    def handle(self, *args, apply, as_json, steps, **options):
        rows = services.maintenance_run(apply=apply, steps=steps or services.MAINTENANCE_STEPS)
        if as_json:
            self.stdout.write(_dumps(rows))
        else:
            for row in rows:
                self.stdout.write(
                    f"{row.step:<14} {row.outcome:<8} rows={row.rows_touched}"
                    + (f"  {row.error}" if row.error else "")
                )
                for key, value in row.details.items():
                    if key != "steps":
                        for line in detail_lines(key, value):
                            self.stdout.write(line)
        if any(row.outcome == "failed" for row in rows):
            raise CommandError("a maintenance step failed (see above / MaintenanceRun)")


def _scalar(value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_scalar(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_scalar(v)}" for k, v in value.items())
    return str(value)


def detail_lines(key: str, value, depth: int = 1) -> list[str]:
    """A step's details for people: nested records one per line, lists joined, no reprs."""
    pad = "    " * depth
    if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
        lines = [f"{pad}{key}:"]
        for sub, inner in value.items():
            lines += detail_lines(sub, inner, depth + 1)
        return lines
    return [f"{pad}{key}: {_scalar(value)}"]


def _dumps(rows) -> str:
    return json.dumps(
        [
            {
                "step": row.step,
                "run_id": str(row.run_id),
                "applied": row.applied,
                "outcome": row.outcome,
                "rows_touched": row.rows_touched,
                "started_at": row.started_at.isoformat(),
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
                "details": row.details,
                "error": row.error,
            }
            for row in rows
        ],
        indent=2,
        default=str,
    )
