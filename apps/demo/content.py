"""Realistic-looking names and text for demo data (deterministic, no third-party content)."""

from __future__ import annotations

import itertools
import random

PROJECTS = [
    (
        "Atlas Platform",
        "Internal developer platform: CI runners, preview environments, golden paths.",
    ),
    ("Billing Service", "Invoices, usage metering and payment-provider integrations."),
    ("Mobile App", "iOS and Android clients sharing one API gateway."),
    ("Data Warehouse", "Nightly ELT from production replicas into the analytics cluster."),
]
WITHOUT_REPOSITORY = {"Data Warehouse"}
WORKFLOW_NAMES = ["master", "release-2.4", "feature-auth", "tech-debt", "incident-followups"]
N8N_WORKFLOWS = ["Nightly build", "Deploy on tag", "Triage new issues", "Rotate secrets"]
VERBS = [
    "Add",
    "Fix",
    "Refactor",
    "Document",
    "Migrate",
    "Benchmark",
    "Remove",
    "Harden",
    "Split",
    "Cache",
]
OBJECTS = [
    "login flow",
    "invoice PDF export",
    "retry policy",
    "webhook signature check",
    "database indexes",
    "feature flag service",
    "CI cache",
    "rate limiter",
    "audit log",
    "search endpoint",
    "onboarding email",
    "metrics dashboard",
    "backup job",
    "session store",
    "API pagination",
]
SENTENCES = [
    "The current implementation works for small tenants but degrades once a project has thousands of tasks.",
    "We agreed in the planning meeting to ship this behind a feature flag first.",
    "Measure before and after; the goal is the p95 latency, not the average.",
    "Keep the public API unchanged so that existing clients do not break.",
    "Write the migration so that it can run online, without locking the table for minutes.",
    "Add a regression test that reproduces the incident from last week.",
    "Coordinate with the platform team, who own the shared runners.",
    "The old behaviour is documented in the legacy wiki and must be preserved for one release.",
    "Prefer a small, reviewable change over a big rewrite.",
    "Error messages should tell the operator what to do next.",
]
ARTICLES = [
    ("Runbook: restoring a database backup", "operations"),
    ("How we review pull requests", "process"),
    ("Architecture overview", "architecture"),
    ("Incident report: queue backlog on release day", "incident"),
    ("Choosing indexes for PostgreSQL", "database"),
    ("Onboarding checklist for new engineers", "process"),
    ("Feature flags: conventions", "engineering"),
    ("Deploying to production", "operations"),
]
TEMPLATES = [
    ("Django service skeleton", "code_pattern", "backend"),
    ("Blue-green deployment", "deployment", "delivery"),
    ("Contract test suite", "test", "quality"),
    ("Release workflow", "workflow", "delivery"),
    ("ADR template", "documentation", "architecture"),
    ("Runner configuration", "configuration", "ci"),
    ("PRD prompt", "prompt", "planning"),
    ("Incident review prompt", "prompt", "operations"),
]
COMPONENTS = [
    ("task-orchestrator", "orchestrator"),
    ("code-generator", "generator"),
    ("schema-validator", "validator"),
    ("github-integration", "integration"),
    ("linear-integration", "integration"),
    ("review-agent", "agent"),
    ("notification-service", "service"),
    ("metrics-collector", "service"),
]
TASK_STATUSES = ["pending", "in_progress", "review", "done", "deferred", "cancelled", "blocked"]
STATUS_WEIGHTS = [30, 15, 8, 35, 4, 3, 5]


def task_title(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}"


def paragraph(rng: random.Random, sentences: int = 3) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(sentences))


def article_body(rng: random.Random, title: str) -> str:
    sections = ["Context", "What to do", "Pitfalls", "References"]
    parts = [f"# {title}", "", paragraph(rng, 3)]
    for section in sections:
        parts += ["", f"## {section}", "", paragraph(rng, rng.randint(2, 5))]
        if section == "What to do":
            parts += [""] + [f"{i}. {rng.choice(SENTENCES)}" for i in range(1, 5)]
    return "\n".join(parts) + "\n"


def n8n_definition(rng: random.Random, name: str) -> dict:
    kinds = [
        ("Trigger", "n8n-nodes-base.cron"),
        ("Fetch", "n8n-nodes-base.httpRequest"),
        ("Transform", "n8n-nodes-base.code"),
        ("Check", "n8n-nodes-base.if"),
        ("Notify", "n8n-nodes-base.slack"),
        ("Store", "n8n-nodes-base.postgres"),
    ]
    count = rng.randint(3, len(kinds))
    nodes = [
        {
            "id": f"{name[:3].lower()}-{i}",
            "name": label,
            "type": node_type,
            "typeVersion": 1,
            "position": [i * 220, 0],
            "parameters": {},
        }
        for i, (label, node_type) in enumerate(kinds[:count])
    ]
    connections = {
        a["name"]: {"main": [[{"node": b["name"], "type": "main", "index": 0}]]}
        for a, b in itertools.pairwise(nodes)
    }
    return {"nodes": nodes, "connections": connections}
