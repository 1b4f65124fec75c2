"""Reviewed exceptions to the migration linter: {(app, migration): {rule: reason}}.

Each entry names one migration and one rule, with why the lock it takes is acceptable. An entry
that no longer matches a finding fails the lint (SM099), so this list cannot rot. New migrations
should not need an entry: use the patterns in docs/migrations.md instead.
"""

IGNORED: dict[tuple[str, str], dict[str, str]] = {
    ("workflows", "0002_workflow_tasks_done_workflow_tasks_total_and_more"): {
        "SM008": (
            "workflow_task_counters_consistent checks tasks_done/tasks_total, which this same "
            "migration adds with the constant default 0: no row can violate it, the cost is one "
            "sequential scan of workflows_workflow under ACCESS EXCLUSIVE, once. Shipped with "
            "the pre-release schema."
        ),
    },
    ("workflows", "0005_filestore_external_key_legacy"): {
        "SM001": (
            "workflow_external_key_unique is partial (external_key IS NOT NULL) on external_key, "
            "which this same migration adds as NULL everywhere: the build indexes no row, and "
            "holds its SHARE lock for one scan of workflows_workflow. Shipped with the "
            "pre-release schema."
        ),
    },
}
