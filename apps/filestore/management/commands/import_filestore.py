"""python manage.py import_filestore PATH… [--project NAME] [--dry-run] [--report FILE] [--strict] [--prune]"""

import argparse
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.filestore.services import filestore_import


class Command(BaseCommand):
    help = (
        "Import Task Master projects/tasks.json files, configs, docs, templates and n8n workflow "
        "exports. Idempotent; one transaction per file; exits non-zero when a file failed."
    )

    def add_arguments(self, parser):
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
        progress = _Bar(self.stderr) if sys.stderr.isatty() else None
        report = filestore_import(
            paths=options["paths"],
            project_name=options["project"],
            dry_run=options["dry_run"],
            strict=options["strict"],
            prune=options["prune"],
            batch_size=options["batch_size"],
            progress=progress,
        )
        if progress:
            progress.close()
        for line in report.summary_lines():
            self.stdout.write(line)
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


class _Bar:
    """A one-line progress bar, for a terminal only."""

    def __init__(self, stream, width: int = 30) -> None:
        self.stream, self.width, self.active = stream, width, False

    def __call__(self, label: str, done: int, total: int) -> None:
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {label[:40]:<40}", ending="")
        self.stream.flush()
        self.active = True

    def close(self) -> None:
        if self.active:
            self.stream.write("")
