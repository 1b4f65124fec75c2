"""A Celery task's statements carry the task's name."""

from __future__ import annotations

from celery import signals

from . import context

_bound: dict[str, object] = {}


def _started(task_id=None, task=None, **_kwargs) -> None:
    tags = context.bind(celery_task=getattr(task, "name", "") or "")
    tags.__enter__()
    _bound[task_id] = tags


def _finished(task_id=None, **_kwargs) -> None:
    tags = _bound.pop(task_id, None)
    if tags is not None:
        tags.__exit__(None, None, None)


def connect() -> None:
    signals.task_prerun.connect(_started, weak=False, dispatch_uid="flowbase-origin-start")
    signals.task_postrun.connect(_finished, weak=False, dispatch_uid="flowbase-origin-end")
