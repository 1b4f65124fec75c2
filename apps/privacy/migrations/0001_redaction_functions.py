"""The redaction functions (apps/privacy/sql/redaction.v1.sql): the identifier pattern, the JSON
rewrite and the audit log's only redaction path, a SECURITY DEFINER function of the owner."""

from django.db import migrations

from apps.privacy.sqlfiles import read_sql

DROP = """
DROP FUNCTION IF EXISTS public.flowbase_audit_redact(regclass, timestamptz[], bigint[], text[], text, bigint, text[]);
DROP FUNCTION IF EXISTS public.flowbase_privacy_redact_jsonb(jsonb, text, text, text[], bigint, boolean);
DROP FUNCTION IF EXISTS public.flowbase_privacy_pattern(text[], boolean);
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunSQL(read_sql("redaction.v1.sql"), reverse_sql=DROP)]
