from django.core.management.base import BaseCommand

from apps.ops import services


class Command(BaseCommand):
    help = (
        "Move completed/cancelled workflows older than N days (default ARCHIVE_AFTER_DAYS) with "
        "their tasks and dependencies to the archive schema. Dry run (counts) unless --apply."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=None, metavar="DAYS")
        parser.add_argument("--apply", action="store_true", help="actually move the rows")
        parser.add_argument(
            "--batch-size", type=int, default=None, help="workflows per transaction"
        )
        parser.add_argument("--max-batches", type=int, default=None)
        parser.add_argument(
            "--pause",
            type=float,
            default=None,
            metavar="SECONDS",
            help="sleep between batches (spares a busy database; default OPS_ARCHIVE_PAUSE_SECONDS)",
        )

    def handle(self, *args, older_than, apply, batch_size, max_batches, pause, **options):
        run = services.archive_run(
            older_than_days=older_than,
            apply=apply,
            batch_size=batch_size,
            max_batches=max_batches,
            pause_seconds=pause,
        )
        cutoff = f"{run.cutoff:%Y-%m-%d %H:%M} UTC ({run.older_than_days} days)"
        self._write_kept(run.details.get("kept_live", {}))
        if not apply:
            would = run.details.get("would_move", {})
            self.stdout.write(
                f"dry run, cutoff {cutoff}: would move {would.get('workflows', 0)} workflows, "
                f"{would.get('tasks', 0)} tasks, {would.get('dependencies', 0)} dependencies "
                "(use --apply)"
            )
            return
        for taken in run.details.get("took_over", []):
            self.stdout.write(
                f"took over the lease of archive run {taken['run']}: {taken['reason']}"
            )
        self.stdout.write(
            f"archive run {run.pk}: {run.outcome}, cutoff {cutoff}, {run.batches} batches; moved/deleted "
            f"workflows {run.workflows_moved}/{run.workflows_deleted}, "
            f"tasks {run.tasks_moved}/{run.tasks_deleted}, "
            f"dependencies {run.dependencies_moved}/{run.dependencies_deleted}"
            f"{'' if run.reconciled else '  NOT RECONCILED'}"
            + (f" ({run.error})" if run.error else "")
        )

    def _write_kept(self, kept: dict) -> None:
        """Old finished workflows left live, with the reason and an example."""
        dependents = kept.get("live_dependents")
        if dependents:
            first = dependents["sample"][0]
            self.stdout.write(
                f"kept live: {dependents['workflows']} workflows: {dependents['reason']} "
                f"(e.g. workflow {first['workflow']}: task {first['dependent_task']} of workflow "
                f"{first['dependent_workflow']} depends on its task {first['task']})"
            )
        restored = kept.get("restored")
        if restored:
            ids = ", ".join(str(item["workflow"]) for item in restored["sample"])
            self.stdout.write(
                f"kept live: {restored['workflows']} workflows: {restored['reason']} ({ids})"
            )
