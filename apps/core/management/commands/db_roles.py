"""`manage.py db_roles [--apply [--admin-url URL]] | --check [--json]`: the least-privilege roles.

Dry run by default: prints the SQL. `--apply` alone runs the owner's part (grants, default
privileges) through the owner connection, which `make migrate` does after `migrate`;
`--apply --admin-url` also runs the admin's part (roles, memberships, ownership, extensions, the
signal function) for a fresh or managed PostgreSQL. `--check` exits 1 on any problem.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.core.roles import config, inspect, services, sql


class Command(BaseCommand):
    help = (
        "Create/grant the least-privilege database roles (dry run unless --apply), or --check "
        "that the app is not a superuser, cannot run DDL and that grants have not drifted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="change the database")
        parser.add_argument("--check", action="store_true", help="report problems; exit 1 if any")
        parser.add_argument("--json", action="store_true", help="--check output as JSON")
        parser.add_argument(
            "--admin-url",
            help="an admin login (superuser, or a managed PostgreSQL's admin with CREATEROLE): "
            "also create the roles, extensions and the signal function",
        )
        parser.add_argument(
            "--owner-createdb",
            action="store_true",
            help="give the owner CREATEDB (local clusters: pytest creates the test database)",
        )
        parser.add_argument(
            "--template1",
            action="store_true",
            help="also put the extensions and the signal function in template1 (local clusters)",
        )
        parser.add_argument(
            "--reassign-from",
            metavar="ROLE",
            help="a former owner login (e.g. the old superuser `flowbase`): hand everything it "
            "owns to the owner role and disable its login",
        )
        parser.add_argument("--database", default="default", help="--check: the app's alias")

    def handle(self, *args, **options):
        if options["check"]:
            return self._check(options["database"], as_json=options["json"])
        apply = options["apply"]
        echo = self.stdout.write
        try:
            if options["admin_url"]:
                if not apply:
                    echo("-- dry run (pass --apply to change the database)")
                services.bootstrap_apply(
                    admin_url=options["admin_url"],
                    owner_createdb=options["owner_createdb"],
                    template=options["template1"],
                    legacy_role=options["reassign_from"],
                    dry_run=not apply,
                    echo=echo if not apply or options["verbosity"] > 1 else (lambda s: None),
                )
            elif apply:
                done = services.grants_apply()
                if options["verbosity"] > 1:
                    for statement in done:
                        echo(statement + ";")
            else:
                echo("-- dry run. The admin's part (`--apply --admin-url URL`):")
                for statement in sql.bootstrap(config.roles()):
                    echo(statement + ";")
                echo("-- The owner's part (`--apply`), for what differs now:")
                for statement in services.grants_apply(dry_run=True):
                    echo(statement + ";")
        except DatabaseError as exc:
            raise CommandError(f"db_roles: {exc}".strip()) from exc
        except Exception as exc:
            if exc.__class__.__module__.startswith("psycopg"):
                raise CommandError(f"db_roles: {exc}".strip()) from exc
            raise
        if apply:
            self.stdout.write(self.style.SUCCESS("db_roles: applied"))

    def _check(self, using: str, *, as_json: bool) -> None:
        problems = inspect.problems(using, app_login=True)
        if as_json:
            self.stdout.write(
                json.dumps(
                    [{"id": p.id, "message": p.message, "hint": p.hint} for p in problems],
                    indent=2,
                )
            )
        else:
            for p in problems:
                self.stderr.write(
                    f"{p.id} {p.message}" + (f"\n    hint: {p.hint}" if p.hint else "")
                )
            if not problems:
                self.stdout.write("db_roles: no problems")
        if problems:
            raise CommandError(f"db_roles --check: {len(problems)} problem(s)")
