"""Row-level security on the project-bound tables (apps/access/policies.py)."""

from django.db import migrations

from apps.access import policies


def forwards(apps, schema_editor):
    policies.apply(schema_editor, apps)


def backwards(apps, schema_editor):
    policies.remove(schema_editor, apps)


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
        ("projects", "0003_project_audit_insert_project_audit_update_and_more"),
        ("workflows", "0005_filestore_external_key_legacy"),
        ("tasks", "0008_task_external_key_idx"),
        ("runs", "0001_initial"),
        ("events", "0001_initial"),
        ("knowledge", "0004_article_default_order_idx"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
