"""The command convention (apps/core/commands.py): --apply for destructive commands, --json for
data, progress only on a terminal."""

import io
import json

from django.core.management import call_command

from apps.core.commands import FlowbaseCommand, ProgressBar


class Wipe(FlowbaseCommand):
    destructive = True
    json_output = True

    def handle(self, *args, apply, as_json, **options):
        result = {"applied": apply, "bar": self.progress_bar() is not None}
        if as_json:
            self.write_json(result)
        elif not apply:
            self.write_dry_run_notice("wipe")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(Wipe(), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_destructive_command_is_a_dry_run_without_apply():
    assert run() == "dry run: nothing changed (--apply to wipe)\n"
    assert json.loads(run("--json")) == {"applied": False, "bar": False}
    assert json.loads(run("--apply", "--json"))["applied"] is True


def test_plain_command_has_neither_flag():
    parser = FlowbaseCommand().create_parser("manage.py", "plain")
    options = {a.dest for a in parser._actions}
    assert "apply" not in options and "as_json" not in options


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal():
    from django.core.management.base import OutputWrapper

    command = Wipe(stderr=_Tty())
    bar = command.progress_bar()
    assert isinstance(bar, ProgressBar)
    bar("file.json", 1, 2)
    bar.close()
    assert "[###############...............] 1/2 file.json" in command.stderr._out.getvalue()
    assert Wipe(stderr=OutputWrapper(io.StringIO())).progress_bar() is None
