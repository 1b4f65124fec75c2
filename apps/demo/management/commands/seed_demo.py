"""python manage.py seed_demo [--scale small|medium|large] [--reset [--apply]]"""

from apps.core.commands import FlowbaseCommand
from apps.demo.services import SCALES, demo_reset_plan, demo_seed


class Command(FlowbaseCommand):
    destructive = True
    apply_help = "with --reset: really delete the demo data (without it --reset only counts)"
    help = (
        "Load demo data: small (seconds; what `make run` loads), medium (~100k tasks) or large "
        "(~1M tasks), generated server-side. Idempotent; --reset --apply deletes all demo data "
        "first (--reset alone prints what it would delete and changes nothing)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--scale", choices=SCALES, default="small")
        parser.add_argument("--reset", action="store_true", help="delete all demo data first")

    def handle(self, *args, **options):
        if options["reset"] and not options["apply"]:
            for name, count in demo_reset_plan().items():
                self.stdout.write(f"would delete {count} {name}")
            self.write_dry_run_notice("delete the demo data and seed again")
            return
        demo_seed(scale=options["scale"], reset=options["reset"], log=self.stdout.write)
