"""python manage.py export_tasks --project NAME [--workflow TAG] --output FILE"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.filestore.selectors import project_by_name
from apps.filestore.services import tasks_export


class Command(BaseCommand):
    help = "Write a project's tasks as a tagged Task Master tasks.json (one tag per workflow)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True)
        parser.add_argument("--workflow", metavar="TAG", help="only this workflow (tag)")
        parser.add_argument("--output", required=True, type=Path, metavar="FILE")

    def handle(self, *args, **options):
        project = project_by_name(options["project"])
        if project is None:
            raise CommandError(f"no project named {options['project']!r}")
        document = tasks_export(project=project, workflow=options["workflow"])
        if options["workflow"] and not document:
            raise CommandError(f"no workflow {options['workflow']!r} in {project.name!r}")
        output = Path(options["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(
            json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        count = sum(len(tag["tasks"]) for tag in document.values())
        self.stdout.write(f"{count} tasks in {len(document)} tag(s) → {output}")
