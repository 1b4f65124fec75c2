from django.core.management.base import BaseCommand, CommandError

from apps.dbhealth import services
from apps.dbhealth.models import DataQualityCheck


class Command(BaseCommand):
    help = "Run data-quality checks: `dataquality run [--check NAME ...]`; exits 1 if any failed."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["run", "list"])
        parser.add_argument("--check", action="append", dest="checks", metavar="NAME")

    def handle(self, *args, action, checks=None, **options):
        if action == "list":
            for c in DataQualityCheck.objects.order_by("name"):
                self.stdout.write(
                    f"{c.name:40} {c.kind:12} {c.target_table:30} {'on' if c.enabled else 'off'}"
                )
            return
        if checks:
            missing = set(checks) - set(
                DataQualityCheck.objects.filter(name__in=checks).values_list("name", flat=True)
            )
            if missing:
                raise CommandError(f"unknown check(s): {', '.join(sorted(missing))}")
        results = services.dataquality_run(names=checks)
        for r in results:
            status = "ERROR" if r.error else ("pass" if r.passed else "FAIL")
            detail = (
                r.error or f"{r.failed_count} failing of {r.total if r.total is not None else '?'}"
            )
            self.stdout.write(f"{status:5} {r.check_ref.name:40} {detail} ({r.duration_ms} ms)")
        failed = [r for r in results if not r.passed]
        self.stdout.write(f"{len(results)} check(s), {len(failed)} failed")
        if failed:
            raise SystemExit(1)
