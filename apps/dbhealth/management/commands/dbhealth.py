import json

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder

from apps.dbhealth import reports, sections, services

SECTIONS = sections.COMMAND_CHOICES


class Command(BaseCommand):
    help = (
        "Print the Database section (same data as the admin pages). Exits 1 when critical findings "
        "are open. --json prints the stable shape documented in docs/dbhealth-json.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--section", choices=SECTIONS, action="append", dest="sections")
        parser.add_argument(
            "--snapshot",
            action="store_true",
            help="also take an index-usage and an overview snapshot",
        )
        parser.add_argument(
            "--accept",
            metavar="KEY",
            help="accept the finding KEY (needs --reason): it stays out of the open list until "
            "its evidence changes materially",
        )
        parser.add_argument("--reason", default="")

    def handle(self, *args, json: bool = False, sections=None, snapshot: bool = False, **options):
        if options.get("accept"):
            self._accept(options["accept"], options.get("reason") or "")
            return
        if snapshot:
            services.index_usage_snapshot_take()
            services.overview_snapshot_take()
        doc = reports.document(sections or SECTIONS)
        if json:
            self.stdout.write(_dumps(doc))
        else:
            self.stdout.write(reports.text(doc))
        if doc["critical_open"]:
            raise SystemExit(1)

    def _accept(self, key: str, reason: str) -> None:
        from django.core.management.base import CommandError

        from apps.dbhealth.models import Finding

        finding = Finding.objects.filter(key=key).first()
        if finding is None:
            raise CommandError(f"no finding with key {key!r}")
        try:
            services.finding_accept(finding=finding, user_id=None, reason=reason)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"accepted {key}: {reason}")


def _dumps(doc) -> str:
    return json_module.dumps(doc, cls=DjangoJSONEncoder, indent=2, sort_keys=True)


json_module = json
