"""Django set-up for the standalone benchmark scripts (`python bench/<name>.py`)."""

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.dev")

import django  # noqa: E402

django.setup()


@contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start
    print(f"  {label}: {results[label]:.3f} s", flush=True)


def ratio(slow: float, fast: float) -> float:
    return slow / fast if fast else float("inf")
