"""The "Database operators" group (view access only) and Flowbase's default data-quality checks."""

from django.db import migrations

GROUP = "Database operators"
VIEW_PERMISSIONS = [
    "view_databasehealth",
    "view_finding",
    "view_dataqualitycheck",
    "view_dataqualityresult",
    "view_indexusagesnapshot",
]

OPEN_TASK_STATES = "('pending', 'in_progress', 'review', 'blocked', 'deferred')"

CHECKS = [
    {
        "name": "tasks_missing_title",
        "kind": "missing",
        "description": "Tasks without a title (seed 000 imported some).",
        "target_table": "tasks_task",
        "target_column": "title",
        "severity": "warning",
    },
    {
        "name": "workflows_missing_name",
        "kind": "missing",
        "description": "Workflows without a name.",
        "target_table": "workflows_workflow",
        "target_column": "name",
        "severity": "warning",
    },
    {
        "name": "projects_missing_repository_url",
        "kind": "missing",
        "description": "Projects without a repository URL (seed 000 left them empty).",
        "target_table": "projects_project",
        "target_column": "repository_url",
        "severity": "info",
    },
    {
        "name": "projects_duplicate_name_ci",
        "kind": "duplicate",
        "description": "Project names that differ only by case.",
        "target_table": "projects_project",
        "target_column": "name",
        "params": {"columns": ["name"], "ignore_case": True},
        "severity": "warning",
    },
    {
        "name": "projects_slug_format",
        "kind": "validity",
        "description": "Slugs must be lowercase letters, digits and dashes.",
        "target_table": "projects_project",
        "target_column": "slug",
        "params": {"regex": "^[a-z0-9]+(-[a-z0-9]+)*$"},
        "severity": "info",
    },
    {
        "name": "tasks_priority_range",
        "kind": "validity",
        "description": "Task priority between 0 and 10.",
        "target_table": "tasks_task",
        "target_column": "priority",
        "params": {"min": 0, "max": 10},
        "severity": "warning",
    },
    {
        "name": "workflows_status_allowed",
        "kind": "validity",
        "description": "Workflow status is one of the known values.",
        "target_table": "workflows_workflow",
        "target_column": "status",
        "params": {"allowed": ["draft", "active", "paused", "completed", "failed", "cancelled"]},
        "severity": "warning",
    },
    {
        "name": "templates_success_rate_range",
        "kind": "custom_sql",
        "description": "Template success rate (success / outcomes) within 0-100 % and outcomes within usage.",
        "target_table": "blueprints_template",
        "params": {
            "sql": (
                "SELECT id, name, usage_count, success_count, failure_count,\n"
                "       round(100.0 * success_count / NULLIF(success_count + failure_count, 0), 2) AS success_rate\n"
                "FROM blueprints_template\n"
                "WHERE success_count + failure_count > usage_count\n"
                "   OR 100.0 * success_count / NULLIF(success_count + failure_count, 0) NOT BETWEEN 0 AND 100"
            )
        },
        "severity": "warning",
    },
    {
        "name": "events_freshness",
        "kind": "freshness",
        "description": "The newest event is at most a day old.",
        "target_table": "events_event",
        "target_column": "created_at",
        "params": {"max_age_seconds": 86400},
        "severity": "warning",
    },
    {
        "name": "tasks_orphan_workflow",
        "kind": "referential",
        "description": "Tasks whose workflow no longer exists.",
        "target_table": "tasks_task",
        "target_column": "workflow_id",
        "params": {"ref_table": "workflows_workflow", "ref_column": "id"},
        "severity": "critical",
    },
    {
        "name": "tasks_open_in_archived_project",
        "kind": "custom_sql",
        "description": "Open tasks whose workflow belongs to an archived project.",
        "target_table": "tasks_task",
        "params": {
            "sql": (
                "SELECT t.id, t.title, t.status, w.id AS workflow_id, p.slug AS project\n"
                "FROM tasks_task t\n"
                "JOIN workflows_workflow w ON w.id = t.workflow_id\n"
                "JOIN projects_project p ON p.id = w.project_id\n"
                f"WHERE p.status = 'archived' AND t.status IN {OPEN_TASK_STATES}"
            )
        },
        "severity": "info",
    },
    {
        "name": "projects_row_count",
        "kind": "row_count",
        "description": "At least one project exists.",
        "target_table": "projects_project",
        "params": {"min": 1},
        "severity": "info",
    },
    {
        "name": "tasks_schema",
        "kind": "schema",
        "description": "Columns other systems read from tasks_task.",
        "target_table": "tasks_task",
        "params": {
            "columns": {
                "id": "bigint",
                "workflow_id": "bigint",
                "title": "character varying",
                "status": "character varying",
                "created_at": "timestamp with time zone",
            }
        },
        "severity": "warning",
    },
]


def forwards(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # The migration's own connection (`migrate --database owner`), never the app's alias: a
    # second connection could not see this transaction's work and would wait for its locks.
    db = schema_editor.connection.alias
    app_config = apps.get_app_config("dbhealth")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=db)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.using(db).filter(
            content_type__app_label="dbhealth", codename__in=VIEW_PERMISSIONS
        )
    )

    Check = apps.get_model("dbhealth", "DataQualityCheck")
    for spec in CHECKS:
        Check.objects.using(db).get_or_create(
            name=spec["name"], defaults={k: v for k, v in spec.items() if k != "name"}
        )


def backwards(apps, schema_editor):
    db = schema_editor.connection.alias
    apps.get_model("auth", "Group").objects.using(db).filter(name=GROUP).delete()
    apps.get_model("dbhealth", "DataQualityCheck").objects.using(db).filter(
        name__in=[c["name"] for c in CHECKS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dbhealth", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
