"""Run every benchmark in bench/ (or those named: `make bench ARGS="triggers import"`)."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> None:
    scripts = sorted(
        p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run.py"
    )
    if names:
        scripts = [p for p in scripts if p.stem in names]
    for script in scripts:
        print(f"== bench/{script.name}", flush=True)
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
