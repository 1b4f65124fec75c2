"""Data-quality results for the demo: the shipped checks run once for real over the demo rows
(some pass, the project without a repository fails one), plus a week of earlier daily results
so the history charts have something to draw."""

from __future__ import annotations

import random
from datetime import timedelta

from apps.dbhealth.models import DataQualityResult
from apps.dbhealth.services import dataquality_run

HISTORY_DAYS = 7


def quality_seed(*, seed: int = 4) -> dict[str, int]:
    rng = random.Random(seed)
    current = dataquality_run()
    history = []
    for result in current:
        for days in range(1, HISTORY_DAYS + 1):
            failed = max(0, result.failed_count + rng.randint(-2, 1)) if result.failed_count else 0
            history.append(
                DataQualityResult(
                    check_ref_id=result.check_ref_id,
                    ran_at=result.ran_at - timedelta(days=days),
                    failed_count=failed,
                    total=result.total,
                    passed=not result.error and failed <= result.check_ref.threshold,
                    duration_ms=result.duration_ms,
                    failing_rows=result.failing_rows if failed else [],
                    error=result.error,
                )
            )
    DataQualityResult.objects.bulk_create(history)
    return {
        "quality_passed": sum(r.passed for r in current),
        "quality_failed": sum(not r.passed for r in current),
        "quality_history": len(history),
    }
