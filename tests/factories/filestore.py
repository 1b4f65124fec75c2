"""Generated Task Master documents (for large-file tests and bench/import.py)."""

from __future__ import annotations

import random

STATUSES = ["pending", "in-progress", "done", "review", "deferred", "cancelled", "blocked"]
PRIORITIES = ["high", "medium", "low"]
WORDS = [
    "build",
    "deploy",
    "refactor",
    "parser",
    "schema",
    "migration",
    "index",
    "cache",
    "queue",
    "worker",
    "retry",
    "timeout",
    "dashboard",
    "report",
    "export",
    "import",
    "audit",
    "webhook",
    "token",
    "session",
    "cluster",
    "backup",
    "restore",
    "latency",
    "budget",
    "rollout",
    "canary",
    "flag",
    "ticket",
    "review",
    "release",
]


def tasks_document(
    *,
    top_level: int,
    subtasks: int = 3,
    tags: tuple[str, ...] = ("master",),
    seed: int = 5,
    text_size: int = 40,
) -> dict:
    """A tagged tasks.json: `top_level` tasks per tag, each with `subtasks` subtasks; dependencies
    point to earlier tasks only (acyclic), in both subtask forms (sibling ints and "N.M")."""
    rng = random.Random(seed)

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    document = {}
    for tag in tags:
        tasks = []
        for i in range(1, top_level + 1):
            deps = sorted(rng.sample(range(max(1, i - 50), i), min(i - 1, rng.randint(0, 2))))
            task = {
                "id": i,
                "title": f"{sentence(4)[:-1]} #{i}",
                "description": sentence(text_size // 4),
                "details": sentence(text_size // 2),
                "testStrategy": sentence(6),
                "status": rng.choice(STATUSES),
                "priority": rng.choice(PRIORITIES),
                "dependencies": deps,
                "subtasks": [],
            }
            if i % 7 == 0:
                task["complexity"] = rng.randint(1, 10)
            for s in range(1, subtasks + 1):
                sub_deps: list = [s - 1] if s > 1 else []
                if i > 1 and s == 1 and rng.random() < 0.3:
                    sub_deps.append(f"{i - 1}.{subtasks}")
                task["subtasks"].append(
                    {
                        "id": s,
                        "title": f"Step {s}: {sentence(3)[:-1]}",
                        "description": sentence(6),
                        "status": rng.choice(STATUSES),
                        "dependencies": sub_deps,
                    }
                )
            tasks.append(task)
        document[tag] = {"tasks": tasks, "metadata": {"description": f"Generated tag {tag}"}}
    return document
