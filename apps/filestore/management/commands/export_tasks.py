"""python manage.py export_tasks --project NAME [--workflow TAG] [--format auto|legacy|tagged] --output FILE"""

from pathlib import Path

from django.core.management.base import CommandError

from apps.core.commands import FlowbaseCommand
from apps.filestore.exporting import FORMATS, ExportError, write_tasks_json
from apps.filestore.selectors import project_by_name


class Command(FlowbaseCommand):
    help = (
        "Write a project's tasks as a Task Master tasks.json, in the shape it was imported from "
        "(legacy: one tag; tagged: one tag per workflow). Untouched values come back as read."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--project", required=True)
        parser.add_argument("--workflow", metavar="TAG", help="only this workflow (tag)")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="auto",
            help="auto (default): the shape the project came from",
        )
        parser.add_argument("--output", required=True, type=Path, metavar="FILE")

    def handle(self, *args, **options):
        project = project_by_name(options["project"])
        if project is None:
            raise CommandError(f"no project named {options['project']!r}")
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                summary = write_tasks_json(
                    out,
                    project=project,
                    workflow=options["workflow"],
                    format=options["format"],
                )
        except ExportError as exc:
            partial.unlink(missing_ok=True)
            raise CommandError(str(exc)) from exc
        partial.replace(output)  # a reader never sees half a file
        self.stdout.write(
            f"{summary.tasks} tasks in {summary.tags} tag(s), {summary.shape} shape → {output}"
        )
