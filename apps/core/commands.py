"""The management-command convention every Flowbase command follows.

- Anything that deletes or rewrites data is a dry run (it plans and prints, changes nothing)
  unless `--apply` is given: set `destructive = True`.
- A command whose output is data offers `--json` (one JSON document on stdout): set
  `json_output = True` and write it with `write_json`.
- Progress goes to stderr, and only when stderr is a terminal (`progress_bar()`), so logs and
  pipes stay clean.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand


class FlowbaseCommand(BaseCommand):
    destructive = False
    json_output = False
    apply_help = "change the database (without it: a dry run that changes nothing)"

    def add_arguments(self, parser) -> None:
        if self.destructive:
            parser.add_argument("--apply", action="store_true", help=self.apply_help)
        if self.json_output:
            parser.add_argument(
                "--json", action="store_true", dest="as_json", help="print the result as JSON"
            )

    def write_json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def write_dry_run_notice(self, what: str = "apply") -> None:
        self.stdout.write(f"dry run: nothing changed (--apply to {what})")

    def progress_bar(self) -> ProgressBar | None:
        """A one-line bar on stderr when it is a terminal; None otherwise (callers skip it)."""
        return ProgressBar(self.stderr) if self.stderr.isatty() else None


class ProgressBar:
    """`bar(label, done, total)` redraws one line; `close()` ends it."""

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
