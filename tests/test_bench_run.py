"""`make bench`: every script in its own interpreter, one failure fails the run."""

import importlib.util
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "bench" / "run.py"


@pytest.fixture
def bench_run(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    (tmp_path / "_helper.py").write_text("")
    (tmp_path / "exits.py").write_text("import sys\nprint('exits ran')\nsys.exit(0)\n")
    (tmp_path / "fails.py").write_text("raise SystemExit('boom')\n")
    (tmp_path / "parses.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--rows', type=int)\n"
        "print('rows', p.parse_args().rows)\n"
    )
    return module


def test_every_script_runs_and_one_failure_fails_the_run(bench_run, capfd):
    assert bench_run.main([]) == 1
    out = capfd.readouterr().out
    # A script's sys.exit(0) does not end the run; the failing one is named.
    assert "exits ran" in out and "== bench/parses.py: rc 0" in out
    assert "FAILED: fails.py" in out and "_helper" not in out


def test_a_named_script_gets_its_own_arguments(bench_run, capfd):
    assert bench_run.main(["parses", "--rows", "7"]) == 0
    out = capfd.readouterr().out
    assert "rows 7" in out and "exits.py" not in out


def test_unknown_name_is_refused(bench_run, capfd):
    assert bench_run.main(["nope"]) == 2
    assert "unknown benchmark(s): nope" in capfd.readouterr().out
