"""Partition upkeep: create the coming partitions, detach those past their retention."""

from __future__ import annotations

from typing import Any

from apps.pg.partitioning.services import partitions_create, partitions_detach


def partitions_upkeep(*, apply: bool) -> tuple[int, dict]:
    """Create upcoming partitions; detach partitions past their retention where configured.

    The floor's partition services do the work (aligned bounds, default-partition checks,
    DETACH-based retention, each under its lock and lock_timeout). Never drops a partition.
    Details carry "problems" (blocked/failed actions), which make the maintenance step fail
    loudly.
    """
    actions = [*partitions_create(apply=apply), *partitions_detach(apply=apply)]
    details: dict[str, Any] = {"via": "apps.pg.partitioning.services"}
    touched = 0
    for action in actions:
        data = action.as_dict()
        details.setdefault(f"{data['action']}_{data['status']}", []).append(data["partition"])
        if data["status"] in ("blocked", "failed"):
            details.setdefault("problems", []).append(data)
        if data["status"] == ("done" if apply else "planned"):
            touched += 1
    return touched, details
