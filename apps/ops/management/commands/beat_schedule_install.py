from django.core.management.base import BaseCommand

from apps.ops import services
from apps.ops.schedule import DEFAULT_SCHEDULE


class Command(BaseCommand):
    help = (
        "Install the default beat schedule (apps/ops/schedule.py) into django-celery-beat: upsert "
        "by name, keep each entry's enabled flag, notify a running beat."
    )

    def handle(self, *args, **options):
        changed = services.beat_schedule_install()
        for entry in DEFAULT_SCHEDULE:
            state = "installed/updated" if entry.name in changed else "unchanged"
            self.stdout.write(f"{entry.name}: {state} -> {entry.task}")
