"""`manage.py backup [--physical] [--list] [--json]`: take a backup now, or list them."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from apps.backups import services
from apps.backups.models import BackupKind, BackupRun, BackupStatus


class Command(BaseCommand):
    help = (
        "Logical backup (pg_dump -Fc, with a manifest of row counts and checksums) into "
        "BACKUP_DIR; --physical: a base backup of the cluster (pg_basebackup) for point-in-time "
        "recovery with the WAL archive. --list shows the backups. Runs as the owner."
    )

    def add_arguments(self, parser):
        parser.add_argument("--physical", action="store_true", help="pg_basebackup of the cluster")
        parser.add_argument(
            "--list", action="store_true", dest="list_only", help="list backups only"
        )
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, physical, list_only, as_json, **options):
        if list_only:
            return self._list(as_json)
        if physical:
            from apps.backups import physical as physical_mod

            run = physical_mod.physical_backup_create()
        else:
            run = services.backup_create()
        summary = {
            "id": run.pk,
            "kind": run.kind,
            "status": run.status,
            "path": run.path,
            "size_bytes": run.size_bytes,
            "duration_ms": run.duration_ms,
            "sha256": run.sha256,
            "tables": run.manifest.get("tables"),
            "rows": run.manifest.get("rows"),
            "error": run.error,
        }
        if as_json:
            self.stdout.write(json.dumps(summary, indent=2))
        elif run.status == BackupStatus.OK:
            extra = (
                f", {summary['tables']} tables, {summary['rows']} rows"
                if run.kind == BackupKind.LOGICAL
                else ""
            )
            self.stdout.write(
                f"backup {run.pk} ({run.kind}) ok: {run.path}, {run.size_bytes} bytes, "
                f"{run.duration_ms} ms{extra}"
            )
        if run.status != BackupStatus.OK:
            raise CommandError(f"backup {run.pk} failed, nothing listed as good: {run.error}")

    def _list(self, as_json: bool) -> None:
        rows = BackupRun.objects.order_by("-started_at")[:100]
        out = [
            {
                "id": r.pk,
                "kind": r.kind,
                "status": r.status,
                "started_at": r.started_at.isoformat(),
                "size_bytes": r.size_bytes,
                "path": r.path,
                "last_restore_test": (
                    t.status if (t := r.restore_tests.order_by("-started_at").first()) else None
                ),
            }
            for r in rows
        ]
        if as_json:
            self.stdout.write(json.dumps(out, indent=2))
            return
        for r in out:
            self.stdout.write(
                f"{r['id']:>5}  {r['kind']:<8}  {r['status']:<7}  {r['started_at'][:19]}  "
                f"{r['size_bytes'] or '-':>12}  restore test: {r['last_restore_test'] or '-'}  "
                f"{r['path']}"
            )
