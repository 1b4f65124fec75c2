"""`manage.py lint_migrations [--json] [--all]`: the project's migrations checked for
operations that lock or rewrite big tables (apps/safe_migrations/linter.py). Exit 1 on any
finding not in the reviewed ignore list."""

from __future__ import annotations

from django.core.management.base import CommandError

from apps.core.commands import FlowbaseCommand
from apps.safe_migrations.linter import RULES, lint_all


class Command(FlowbaseCommand):
    json_output = True
    help = "Lint migrations for locks on big tables (docs/migrations.md)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--all", action="store_true", help="also list ignored findings")
        parser.add_argument("--database", default="default")

    def handle(self, *args, as_json, all, database, **options):
        findings = lint_all(using=database)
        problems = [f for f in findings if not f.ignored]
        shown = findings if all else problems
        if as_json:
            self.write_json([{**f.__dict__, "rule_text": RULES[f.rule]} for f in shown])
        else:
            for f in shown:
                self.stdout.write(("ignored: " if f.ignored else "") + f.message)
                if f.ignored:
                    self.stdout.write(f"    reason: {f.ignored}")
            self.stdout.write(
                f"{len(problems)} finding(s), {len(findings) - len(problems)} ignored with a reason"
            )
        if problems:
            raise CommandError("migrations lock big tables: see above and docs/migrations.md")
