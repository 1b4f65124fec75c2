"""Django set-up for the standalone benchmark scripts (`python bench/<name>.py`)."""

import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataplatform.settings.dev")

import django  # noqa: E402

django.setup()

from apps.pg import rowscope  # noqa: E402

rowscope.set_process_default(rowscope.EVERY_ROW)  # a benchmark is a command: every project


@contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start
    print(f"  {label}: {results[label]:.3f} s", flush=True)


def ratio(slow: float, fast: float) -> float:
    return slow / fast if fast else float("inf")


# --- side-by-side measurement -------------------------------------------------------------------


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 5 samples is the slowest: no interpolation flattery)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def interleaved(
    sides: dict[str, Callable[[], object]], *, repeat: int = 5
) -> dict[str, list[float]]:
    """Time each side `repeat` times, alternating sides (ABAB…, the order flipped every round so
    neither always runs on a warmer cache). Every side must return the same rows (compared as
    returned): a faster wrong answer fails the bench."""
    if repeat < 5:
        raise SystemExit("repeat must be >= 5 (p95 needs samples)")
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    results: dict[str, object] = {}
    for round_ in range(repeat):
        for name in names if round_ % 2 == 0 else reversed(names):
            start = time.perf_counter()
            result = sides[name]()
            samples[name].append(time.perf_counter() - start)
            results.setdefault(name, result)
    first = names[0]
    for name in names[1:]:
        if results[name] != results[first]:
            raise SystemExit(f"{name} and {first} returned different rows: the comparison is void")
    return samples


def summary(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 50) * 1000:8.1f} ms  p95 {percentile(samples, 95) * 1000:8.1f} ms"
