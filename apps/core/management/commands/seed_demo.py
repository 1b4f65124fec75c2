"""python manage.py seed_demo [--scale small|medium|large] [--reset]"""

from django.core.management.base import BaseCommand

from apps.core.demo.services import SCALES, demo_seed


class Command(BaseCommand):
    help = (
        "Load demo data: small (seconds; what `make run` loads), medium (~100k tasks) or large "
        "(~1M tasks), generated server-side. Idempotent; --reset deletes all demo data first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=SCALES, default="small")
        parser.add_argument("--reset", action="store_true", help="delete all demo data first")

    def handle(self, *args, **options):
        demo_seed(scale=options["scale"], reset=options["reset"], log=self.stdout.write)
