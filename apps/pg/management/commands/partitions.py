"""`manage.py partitions list|create|detach [--apply] [--json]`: thin wrapper over
apps/pg/partitioning/services.py. Dry run unless --apply."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from apps.pg import partitioning as partitions
from apps.pg.partitioning import services as partition_services


class Command(BaseCommand):
    help = (
        "List partitions (with the default-partition alarm), create the ones each strategy "
        "wants ahead, or detach those past retention into the archive schema."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "create", "detach"])
        parser.add_argument("--apply", action="store_true", help="change the database")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--move-default-rows",
            action="store_true",
            help="create: move rows of a new partition's range out of the default partition",
        )
        parser.add_argument(
            "--database",
            default=None,
            help="alias (default: `default` to list, the owner connection to create/detach)",
        )

    def handle(
        self,
        *args,
        action: str,
        apply: bool,
        json: bool,
        database: str,
        move_default_rows: bool,
        **options,
    ):
        if action == "list":
            return self._list(database or "default", as_json=json)
        if action == "create":
            actions = partition_services.partitions_create(
                apply=apply, move_default_rows=move_default_rows, using=database
            )
        else:
            actions = partition_services.partitions_detach(apply=apply, using=database)
        self._report(action, actions, apply=apply, as_json=json)
        if any(a.status in ("failed", "blocked") for a in actions):
            raise CommandError(f"partitions {action}: some partitions failed or are blocked")

    def _list(self, using: str, *, as_json: bool) -> None:
        tables = {}
        for config in partitions.policy_list():
            table = config.model._meta.db_table
            tables[table] = {
                "model": config.model._meta.label,
                "retention": partitions.describe_delta(getattr(config, "retention", None)),
                "partitions": [p.as_dict() for p in partitions.partition_list(table, using)],
            }
        reports = [report for _, report in partitions.default_partition_alarms(using)]
        alarms = [r.as_dict() for r in reports]
        if as_json:
            self.stdout.write(_dumps({"tables": tables, "default_partition_rows": alarms}))
        else:
            for table, info in tables.items():
                self.stdout.write(f"{table} ({info['model']}, retention {info['retention']})")
                for p in info["partitions"]:
                    rows = "?" if p["row_estimate"] is None else p["row_estimate"]
                    span = (
                        "DEFAULT"
                        if p["is_default"]
                        else f"[{p['range_from'][:10]} .. {p['range_to'][:10]})"
                        if p["range_from"] and p["range_to"]
                        else p["bound"]
                    )
                    self.stdout.write(
                        f"  {p['name']:<40} {span:<28} ~{rows} rows, {p['total_bytes']} bytes"
                    )
            for report in reports:
                self.stderr.write(
                    self.style.ERROR(
                        f"ALARM {report.message(separator='…')}; create partitions for them "
                        "and move the rows"
                    )
                )
        if alarms:
            raise CommandError(f"{len(alarms)} default partition(s) hold rows")

    def _report(self, action: str, actions, *, apply: bool, as_json: bool) -> None:
        if as_json:
            self.stdout.write(_dumps({"apply": apply, "actions": [a.as_dict() for a in actions]}))
            return
        mode = "" if apply else " (dry run; pass --apply to change the database)"
        self.stdout.write(f"partitions {action}: {len(actions)} partition(s){mode}")
        for a in actions:
            line = f"  {a.status:<8} {a.action} {a.partition} [{a.range_from} … {a.range_to})"
            if a.reason:
                line += f": {a.reason}"
            self.stdout.write(line)


def _dumps(data) -> str:
    return json.dumps(data, indent=2, default=str)
