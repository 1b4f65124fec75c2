"""Samples stored before redaction existed: redact them in place (results) and drop them from
findings' evidence, which view-only operators see (the samples stay on the check's page, behind
`dbhealth.view_failing_rows`)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from apps.dbhealth.redaction import redact_rows

    alias = schema_editor.connection.alias
    Result = apps.get_model("dbhealth", "DataQualityResult")
    for result in Result.objects.using(alias).exclude(failing_rows=[]).iterator(chunk_size=500):
        redacted = redact_rows(result.failing_rows or [])
        if redacted != result.failing_rows:
            Result.objects.using(alias).filter(pk=result.pk).update(failing_rows=redacted)
    Finding = apps.get_model("dbhealth", "Finding")
    for finding in Finding.objects.using(alias).filter(kind__startswith="quality."):
        evidence = dict(finding.evidence or {})
        if "sample" in evidence:
            evidence["sample_rows"] = len(evidence.pop("sample") or [])
            Finding.objects.using(alias).filter(pk=finding.pk).update(evidence=evidence)


class Migration(migrations.Migration):
    dependencies = [("dbhealth", "0004_check_permissions_and_audit")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
