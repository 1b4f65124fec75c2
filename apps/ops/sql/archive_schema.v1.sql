-- Archive schema: same columns as the live tables (no defaults/identity/constraints but the
-- primary key, so a row can be archived only once), plus archived_at.
CREATE SCHEMA IF NOT EXISTS archive;

CREATE TABLE archive.workflows_workflow (
    LIKE workflows_workflow,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
CREATE INDEX archive_workflow_project_idx ON archive.workflows_workflow (project_id);
CREATE INDEX archive_workflow_archived_idx ON archive.workflows_workflow (archived_at);

CREATE TABLE archive.tasks_task (
    LIKE tasks_task,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
CREATE INDEX archive_task_workflow_idx ON archive.tasks_task (workflow_id);

CREATE TABLE archive.tasks_taskdependency (
    LIKE tasks_taskdependency,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
);
CREATE INDEX archive_taskdependency_task_idx ON archive.tasks_taskdependency (task_id);
CREATE INDEX archive_taskdependency_depends_on_idx ON archive.tasks_taskdependency (depends_on_id);
