"""Partition upkeep: create the coming partitions, detach those past their retention."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from django.db import transaction

from apps.core.roles.config import owner_alias
from apps.pg.locks import set_local_lock_timeout, try_xact_lock

from ..conf import lock_timeout


def partitions_upkeep(*, apply: bool) -> tuple[int, dict]:
    """Create upcoming partitions; detach partitions past their retention where configured.

    Uses apps.pg's partition services when present (aligned bounds, default-partition checks,
    DETACH-based retention), else the psqlextra manager: plan(skip_delete=True).apply() under
    SET LOCAL lock_timeout. Never drops a partition. Details carry "problems" (blocked/failed
    actions), which make the maintenance step fail loudly.
    """
    if importlib.util.find_spec("apps.pg.partitioning.services") is not None:
        ps = importlib.import_module("apps.pg.partitioning.services")
        if hasattr(ps, "partitions_create"):
            return _partitions_via_events(ps, apply=apply)
    from apps.pg.partitioning.manager import manager

    db = owner_alias()
    plan = manager.plan(skip_delete=True, using=db)
    names = [
        f"{model_plan.config.model._meta.db_table}_{partition.name()}"
        for model_plan in plan.model_plans
        for partition in model_plan.creations
    ]
    if apply and names:
        with transaction.atomic(using=db):
            if not try_xact_lock("partitions", using=db):
                return 0, {"skipped": "another partition run holds the lock"}
            set_local_lock_timeout(lock_timeout(), using=db)
            plan.apply(using=db)
    return len(names), {"created" if apply else "would_create": names}


def _partitions_via_events(ps, *, apply: bool) -> tuple[int, dict]:
    actions = list(ps.partitions_create(apply=apply))
    if hasattr(ps, "partitions_detach"):
        actions += list(ps.partitions_detach(apply=apply))
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
