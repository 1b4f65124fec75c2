"""`manage.py restore --into NAME [--backup ID|FILE] [--force --confirm NAME] [--apply]` and
`manage.py restore --pitr TIMESTAMP --port N [--apply]`. Dry run unless --apply."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from apps.backups import services
from apps.backups.pg import BackupError


class Command(BaseCommand):
    help = (
        "Restore a logical backup into a NEW database (--into NAME; an existing one only with "
        "--force --confirm NAME), or bring up a second cluster on --port recovered to a moment "
        "(--pitr 'YYYY-MM-DD HH:MM:SS+00') from the newest physical base backup before it and "
        "the WAL archive. Dry run (the plan) unless --apply."
    )

    def add_arguments(self, parser):
        parser.add_argument("--into", metavar="NAME", help="new database to restore into")
        parser.add_argument("--backup", metavar="ID|FILE", help="default: the newest good one")
        parser.add_argument("--force", action="store_true", help="replace an existing database")
        parser.add_argument("--confirm", metavar="NAME", help="with --force: the name again")
        parser.add_argument("--pitr", metavar="TIMESTAMP", help="point-in-time recovery target")
        parser.add_argument("--port", type=int, help="with --pitr: port of the recovered cluster")
        parser.add_argument("--datadir", help="with --pitr: where the recovered cluster lives")
        parser.add_argument("--apply", action="store_true", help="actually restore")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, **opts):
        try:
            result = self._pitr(opts) if opts["pitr"] else self._logical(opts)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if opts["as_json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
            return
        mode = "RESTORED" if result["applied"] else "dry run"
        for key, value in result.items():
            if key != "applied":
                self.stdout.write(f"{mode}: {key} = {value}")
        if not result["applied"]:
            self.stdout.write("(use --apply)")

    def _logical(self, opts) -> dict:
        if not opts["into"]:
            raise BackupError("--into NAME is required (or --pitr for point-in-time recovery)")
        _, path = services.resolve_backup(opts["backup"])
        plan = services.backup_restore(
            backup=path,
            into=opts["into"],
            apply=opts["apply"],
            force=opts["force"],
            confirm=opts["confirm"],
        )
        return plan.as_dict()

    def _pitr(self, opts) -> dict:
        from apps.backups import physical

        moment = parse_datetime(opts["pitr"])
        if moment is None or moment.tzinfo is None:
            raise BackupError(
                f"--pitr {opts['pitr']!r}: give a timestamp with its zone, e.g. "
                "'2026-12-01 23:40:00+00:00'"
            )
        if not opts["port"]:
            raise BackupError("--pitr needs --port N (a free port for the recovered cluster)")
        return physical.pitr_restore(
            target_time=moment, port=opts["port"], datadir=opts["datadir"], apply=opts["apply"]
        )
