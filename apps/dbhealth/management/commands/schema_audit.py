"""`manage.py schema_audit`: the live schema against the models and migrations, for CI."""

from __future__ import annotations

from apps.core.commands import FlowbaseCommand
from apps.dbhealth.checks import drift


class Command(FlowbaseCommand):
    help = (
        "Compare the live database with what the models and migrations declare (tables, columns, "
        "indexes, constraints, pgtrigger triggers, unapplied migrations). Changes nothing; "
        "exits 1 when there is any drift."
    )
    json_output = True

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--database",
            default=None,
            help="connection alias to read through (default: the monitor login for the catalog, "
            "the app's for migrations and triggers)",
        )

    def handle(self, *args, as_json: bool = False, database: str | None = None, **options):
        result = drift.report(using=database)
        if as_json:
            self.write_json(result)
        elif result["clean"]:
            self.stdout.write("schema audit: no drift")
        else:
            for i in result["drift"]:
                self.stdout.write(f"{i['severity']:8} {i['kind']:26} {i['object']}: {i['title']}")
            self.stdout.write(f"schema audit: {len(result['drift'])} difference(s)")
        if not result["clean"]:
            raise SystemExit(1)
