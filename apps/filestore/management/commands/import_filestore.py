"""python manage.py import_filestore PATH… [--project NAME] [--dry-run] [--report FILE] [--strict]
[--prune [--apply]]"""

import argparse
import json
from pathlib import Path

from django.core.management.base import CommandError

from apps.core.commands import FlowbaseCommand
from apps.filestore.services import filestore_import


class Command(FlowbaseCommand):
    destructive = True
    apply_help = "with --prune: really delete (without it --prune makes the whole run a dry run)"
    help = (
        "Import Task Master projects/tasks.json files, configs, docs, templates and n8n workflow "
        "exports. Idempotent; one transaction per file; exits non-zero when a file failed. "
        "--prune deletes what left the files, and only with --apply (else a dry run)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--project", help="project name (default: the directory's name)")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and plan, write nothing"
        )
        parser.add_argument(
            "--report", type=Path, metavar="FILE", help="write the JSON report here"
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="warnings are errors, and nothing is written if any file fails",
        )
        parser.add_argument(
            "--prune", action="store_true", help="delete tasks/dependencies not in the file"
        )
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=5000,
            metavar="N",
            help="rows per upsert batch (at least 1; default 5000)",
        )

    def handle(self, *args, **options):
        progress = self.progress_bar()
        # Deleting needs --apply: --prune without it plans the deletions and writes nothing.
        pruning_unconfirmed = options["prune"] and not options["apply"]
        report = filestore_import(
            paths=options["paths"],
            project_name=options["project"],
            dry_run=options["dry_run"] or pruning_unconfirmed,
            strict=options["strict"],
            prune=options["prune"],
            batch_size=options["batch_size"],
            progress=progress,
        )
        if progress:
            progress.close()
        for line in report.summary_lines():
            self.stdout.write(line)
        if pruning_unconfirmed and not options["dry_run"]:
            self.write_dry_run_notice("import and delete what left the files")
        if options["report"]:
            options["report"].write_text(
                json.dumps(report.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8"
            )
        if not report.ok:
            raise CommandError("some files were not imported (see the report above)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
