from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.ops import services
from apps.ops.matviews import REGISTRY


class Command(BaseCommand):
    help = "Refresh materialized views (all registered ones unless named); each attempt is logged."

    def add_arguments(self, parser):
        parser.add_argument(
            "names", nargs="*", metavar="NAME", help=f"any of: {', '.join(REGISTRY)}"
        )
        parser.add_argument(
            "--concurrently",
            action="store_true",
            default=None,
            help="REFRESH … CONCURRENTLY (the default once a view is populated)",
        )
        parser.add_argument(
            "--no-concurrently",
            dest="concurrently",
            action="store_false",
            help="plain REFRESH (takes an exclusive lock: readers wait)",
        )

    def handle(self, *args, names, concurrently, **options):
        unknown = sorted(set(names) - set(REGISTRY))
        if unknown:
            raise CommandError(
                f"unknown views: {', '.join(unknown)} (known: {', '.join(REGISTRY)})"
            )
        failed = []
        for name in names or list(REGISTRY):
            try:
                record = services.matview_refresh(name=name, concurrently=concurrently)
            except DatabaseError as exc:
                failed.append(name)
                self.stderr.write(f"{name}: failed: {exc}")
                continue
            line = (
                f"{name}: {record.outcome} in {record.duration_ms} ms"
                f"{'' if record.rows is None else f', {record.rows} rows'}"
                f"{' (concurrently)' if record.concurrently else ''}"
            )
            if record.outcome == "failed":
                failed.append(name)
                self.stderr.write(f"{line}: {record.error}")
            else:
                self.stdout.write(line)
        if failed:
            raise CommandError(f"refresh failed for: {', '.join(failed)}")
