"""Run every benchmark in bench/, or those named: `make bench ARGS="triggers import"`.

Each script runs in its own interpreter (a script's `sys.exit` or argument parsing cannot end the
run, and each parses only its own arguments). Arguments after the names, starting at the first
that begins with `-`, go to the named scripts: `make bench ARGS="admin --scale large"`. The run
exits non-zero when any script failed, after running the others.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run.py")


def main(argv: list[str]) -> int:
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, script_args = argv[:split], argv[split:]
    available = {p.stem: p for p in scripts()}
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
        return 2
    if script_args and not names:
        print("script arguments need the benchmark's name first: ARGS='admin --scale medium'")
        return 2
    selected = [available[name] for name in names] or list(available.values())
    failed = []
    for script in selected:
        print(f"== bench/{script.name}", flush=True)
        started = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *script_args], cwd=HERE)
        print(
            f"== bench/{script.name}: rc {rc} in {time.perf_counter() - started:.0f} s", flush=True
        )
        if rc != 0:
            failed.append(script.name)
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
