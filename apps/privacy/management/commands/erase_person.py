"""`manage.py erase_person --assignee NAME | --user ID [--also X] [--apply] [--json]`:
find (dry run) or erase one person's identifiers everywhere (apps/privacy/services.py)."""

from __future__ import annotations

from django.core.management.base import CommandError
from django.db import DatabaseError

from apps.core.commands import FlowbaseCommand
from apps.core.validation import parse_id
from apps.privacy import identity, services


class Command(FlowbaseCommand):
    destructive = True
    json_output = True
    help = (
        "Personal-data erasure: show where a person appears (dry run, the default) or replace "
        "their identifiers by a stable pseudonym everywhere, in one transaction (--apply). "
        "Runs as the owner (MAINTENANCE_DATABASE_URL / MIGRATE_DATABASE_URL)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--assignee", metavar="NAME", help="a name as tasks and files carry it")
        who.add_argument("--user", metavar="ID", help="a user account (username, e-mail, name)")
        parser.add_argument(
            "--also",
            action="append",
            default=[],
            metavar="IDENTIFIER",
            help="another identifier of the same person (e-mail, nickname); repeatable",
        )
        parser.add_argument(
            "--requested-by", default="", help="who asked (recorded; default: the OS login)"
        )
        parser.add_argument("--reason", default="", help="ticket or legal basis (recorded)")
        parser.add_argument("--actor", default=None, help="user id of the operator (audit actor)")
        parser.add_argument("--database", default=None, help="alias (default: the owner's)")

    def handle(self, *args, assignee, user, also, apply, as_json, **options):
        try:
            actor = None
            if options["actor"] is not None:
                actor = parse_id(options["actor"])
                if actor is None:
                    raise identity.ErasureError(f"--actor: {options['actor']!r} is not a user id")
            if user is not None:
                user_id = parse_id(user)
                if user_id is None:
                    raise identity.ErasureError(f"--user: {user!r} is not a user id")
                person = identity.person_for_user(
                    user_id, also=also, using=options["database"] or _owner()
                )
            else:
                person = identity.person_for_assignee(assignee, also=also)
            report = services.person_erase(
                person=person,
                apply=apply,
                requested_by=options["requested_by"],
                reason=options["reason"],
                actor_id=actor,
                using=options["database"],
            )
        except identity.ErasureError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(f"erase_person failed, nothing changed: {exc}".strip()) from exc
        if as_json:
            self.write_json(report.as_dict())
            return
        self._print(report)

    def _print(self, report) -> None:
        person = report.person
        mode = "ERASED" if report.applied else "dry run"
        self.stdout.write(
            f"{mode}: {person['kind']} -> {person['pseudonym']} "
            f"(key hash {person['key_hash'][:16]}…, {person['identifiers']} identifier(s))"
        )
        self.stdout.write(
            f"searched {report.columns_searched} column(s) of {report.relations_searched} "
            f"relation(s); {len(report.skipped_tables)} relation(s) never rewritten (searched)"
        )
        rows = report.by_table()
        if not rows:
            self.stdout.write("no place holds these identifiers")
        for row in rows:
            self.stdout.write(
                f"  {row['table']}.{row['column']:<22} {row['kind']:<10} {row['action']:<12} "
                f"{row['rows']}"
            )
        for hint in report.hints:
            self.stdout.write(f"hint: {hint}")
        if report.applied:
            self.stdout.write(
                f"rows changed: {report.rows_changed} (audit rows redacted: "
                f"{report.audit_rows_redacted}); views refreshed: "
                f"{', '.join(report.matviews_refreshed) or 'none'}; verified: {report.verified}"
            )
        elif any(r["action"] == "refuse" for r in rows):
            self.stdout.write("refused places would fail --apply: clean them by hand first")
        else:
            self.stdout.write("dry run: nothing changed (--apply to erase)")


def _owner() -> str:
    from apps.core.roles.config import owner_alias

    return owner_alias()
