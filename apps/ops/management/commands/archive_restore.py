from django.core.management.base import BaseCommand, CommandError

from apps.ops import services


class Command(BaseCommand):
    help = "Bring one archived workflow (with its tasks and dependencies) back to the live tables."

    def add_arguments(self, parser):
        parser.add_argument("--workflow", type=int, required=True, metavar="ID")

    def handle(self, *args, workflow, **options):
        try:
            result = services.archive_restore(workflow_id=workflow)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored workflow {workflow}: {result['tasks']} tasks, "
            f"{result['dependencies']} dependencies; archive runs leave it until it is "
            "completed again"
        )
