import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def run_import(tmp_path):
    """Run import_filestore like an operator; returns (exit_ok, report dict)."""
    counter = iter(range(1000))

    def run(*paths, **options) -> tuple[bool, dict]:
        report_file = tmp_path / f"report-{next(counter)}.json"
        args = [str(p) for p in paths] + ["--report", str(report_file)]
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value not in (False, None):
                args += [flag, str(value)]
        ok = True
        try:
            call_command("import_filestore", *args, stdout=io.StringIO())
        except CommandError:
            ok = False
        return ok, json.loads(report_file.read_text())

    return run


def totals(report: dict, entity: str) -> dict:
    return report["totals"].get(entity, {})
