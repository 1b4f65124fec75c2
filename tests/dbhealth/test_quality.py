"""Failing rows for every data-quality kind; read-only and timeout guards; defaults shipped."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.dbhealth import services
from apps.dbhealth.models import DataQualityCheck, DataQualityResult

from .conftest import SCHEMA, page_url
from .helpers import dbhealth_json, finding_keys, metric_value, metrics_text

pytestmark = pytest.mark.django_db(databases=["default", "monitor", "readonly"])

T = f"{SCHEMA}.dq_items"

# name → (kind, column, params, expected failed_count)
CASES = {
    "s_missing_title": ("missing", "title", {}, 2),  # NULL and blank
    "s_duplicate_name_ci": ("duplicate", "name", {"columns": ["name"], "ignore_case": True}, 2),
    "s_validity_regex": ("validity", "email", {"regex": r"^[^@\s]+@[^@\s]+$"}, 1),
    "s_validity_range": ("validity", "score", {"min": 0, "max": 100}, 2),
    "s_validity_allowed": ("validity", "status", {"allowed": ["open", "closed"]}, 1),
    "s_freshness": ("freshness", "created_at", {"max_age_seconds": 86400}, 1),
    "s_referential": (
        "referential",
        "parent_id",
        {"ref_table": f"{SCHEMA}.dq_parents", "ref_column": "id"},
        1,
    ),
    "s_row_count": ("row_count", "", {"min": 1000}, 1),
    "s_schema": (
        "schema",
        "",
        {"columns": {"id": "bigint", "score": "text", "absent": "integer"}},
        2,
    ),
    "s_custom_sql": ("custom_sql", "", {"sql": f"SELECT id, score FROM {T} WHERE score < 0;"}, 1),
}


def _make(name, kind, column, params, **extra):
    return DataQualityCheck.objects.create(
        name=name,
        kind=kind,
        target_table=extra.pop("table", T),
        target_column=column,
        params=params,
        **extra,
    )


def test_every_kind_reports_its_failing_rows(scratch, admin_client_dbh):
    for name, (kind, column, params, _) in CASES.items():
        _make(
            name,
            kind,
            column,
            params,
            severity="critical" if name == "s_referential" else "warning",
        )
    results = {r.check_ref.name: r for r in services.dataquality_run(names=list(CASES))}
    for name, (*_, expected) in CASES.items():
        r = results[name]
        assert r.error == "", (name, r.error)
        assert r.failed_count == expected, (name, r.failed_count, r.failing_rows)
        assert not r.passed and 0 < len(r.failing_rows) <= 20, name
    assert {row["id"] for row in results["s_missing_title"].failing_rows} == {2, 3}
    assert results["s_duplicate_name_ci"].failing_rows[0] == {"name": "alpha", "count": 2}
    assert results["s_referential"].failing_rows == [{"id": 3, "parent_id": 99}]
    assert {p["column"] for p in results["s_schema"].failing_rows} == {"score", "absent"}

    # The page, the JSON, the metrics and the findings all show them.
    page = admin_client_dbh.get(page_url("quality")).content.decode()
    assert all(f'data-check="{n}"' in page for n in CASES) and "dbh-chart" in page
    detail = admin_client_dbh.get(
        page_url(f"quality/{results['s_referential'].check_ref_id}")
    ).content.decode()
    assert 'id="failing-rows"' in detail and "99" in detail
    code, doc = dbhealth_json("quality", "findings")
    checks = {c["name"]: c for c in doc["sections"]["quality"]["checks"]}
    assert (
        checks["s_validity_range"]["last_failed_count"] == 2
        and checks["s_validity_range"]["last_passed"] is False
    )
    assert code == 1  # s_referential is critical
    keys = finding_keys(admin_client_dbh)
    assert {f"quality.failed:{n}" for n in CASES} <= keys
    metrics = metrics_text(admin_client_dbh)
    assert (
        metric_value(metrics, "flowbase_db_dataquality_failed_rows", 'check="s_validity_range"')
        == 2.0
    )
    assert (
        metric_value(metrics, "flowbase_db_dataquality_passed", 'check="s_validity_range"') == 0.0
    )


def test_threshold_passes_and_fixing_data_resolves_the_finding(scratch):
    check = _make("s_thresh", "validity", "score", {"min": 0, "max": 100}, threshold=2)
    (r,) = services.dataquality_run(names=["s_thresh"])
    assert r.passed and r.failed_count == 2
    check.threshold = 0
    check.save()
    services.dataquality_run(names=["s_thresh"])
    from apps.dbhealth.models import Finding

    f = Finding.objects.get(key="quality.failed:s_thresh")
    assert f.status == "open"
    check.threshold = 5
    check.save()
    services.dataquality_run(names=["s_thresh"])
    f.refresh_from_db()
    assert f.status == "resolved" and f.resolved_by is None


def test_missing_table_is_an_error_not_a_crash(scratch):
    _make(
        "s_no_table", "freshness", "created_at", {"max_age_seconds": 60}, table="events_missing_xyz"
    )
    (r,) = services.dataquality_run(names=["s_no_table"])
    assert r.error == "table missing" and not r.passed


def test_missing_column_is_an_error(scratch):
    _make("s_no_col", "missing", "nope", {})
    (r,) = services.dataquality_run(names=["s_no_col"])
    assert r.error == "column missing: nope"


def test_identifiers_are_quoted_not_interpolated(scratch):
    _make("s_inject", "missing", 'title" IS NULL; DROP TABLE x; --', {})
    (r,) = services.dataquality_run(names=["s_inject"])
    assert r.error.startswith("column missing")


@pytest.mark.parametrize(
    "sql, message",
    [
        (f"SELECT nextval('{SCHEMA}.dq_seq')", "read-only transaction"),
        (f"WITH d AS (DELETE FROM {T} RETURNING id) SELECT * FROM d", "WITH"),
        (f"SELECT 1; DELETE FROM {T}", "single statement"),
        (f"DELETE FROM {T}", "must be a SELECT"),
    ],
)
def test_custom_sql_cannot_write(scratch, sql, message):
    _make("s_write", "custom_sql", "", {"sql": sql})
    (r,) = services.dataquality_run(names=["s_write"])
    assert message in r.error and not r.passed
    assert DataQualityCheck.objects.filter(name="s_write").exists()
    import psycopg

    with psycopg.connect(scratch) as conn:
        assert conn.execute(f"SELECT count(*) FROM {T}").fetchone()[0] == 4


def test_custom_sql_statement_timeout(scratch, settings):
    settings.DBHEALTH = {**settings.DBHEALTH, "DQ_STATEMENT_TIMEOUT_MS": 100}
    _make("s_slow", "custom_sql", "", {"sql": "SELECT 1 AS x FROM pg_sleep(2)"})
    (r,) = services.dataquality_run(names=["s_slow"])
    assert "statement timeout" in r.error


def test_default_checks_shipped_and_run_on_the_app_tables():
    from django.contrib.auth.models import Group

    from .helpers import apply_shipped_migration

    DataQualityCheck.objects.all().delete()
    Group.objects.filter(name="Database operators").delete()
    apply_shipped_migration()  # the data migration itself, on empty tables
    group = Group.objects.get(name="Database operators")
    assert sorted(group.permissions.values_list("codename", flat=True)) == [
        "view_databasehealth",
        "view_dataqualitycheck",
        "view_dataqualityresult",
        "view_finding",
        "view_indexusagesnapshot",
    ]
    names = set(DataQualityCheck.objects.values_list("name", flat=True))
    expected = {
        "tasks_missing_title",
        "workflows_missing_name",
        "projects_missing_repository_url",
        "projects_duplicate_name_ci",
        "templates_success_rate_range",
        "events_freshness",
        "tasks_orphan_workflow",
        "tasks_open_in_archived_project",
        "tasks_schema",
    }
    assert expected <= names
    results = {r.check_ref.name: r for r in services.dataquality_run()}
    # Every shipped check runs without a SQL error (events may not exist yet: "table missing").
    for name, r in results.items():
        assert r.error in ("", "table missing"), (name, r.error)
    assert results["tasks_schema"].passed, results["tasks_schema"].failing_rows


def test_dataquality_command(scratch, capsys):
    _make("s_cmd_ok", "row_count", "", {"min": 1})
    call_command("dataquality", "run", "--check", "s_cmd_ok")
    assert "pass  s_cmd_ok" in capsys.readouterr().out
    _make("s_cmd_bad", "row_count", "", {"max": 1})
    with pytest.raises(SystemExit) as exc:
        call_command("dataquality", "run", "--check", "s_cmd_bad")
    assert exc.value.code == 1
    assert DataQualityResult.objects.filter(check_ref__name="s_cmd_bad", passed=False).exists()


def test_dataquality_task(scratch):
    from apps.dbhealth.tasks import dataquality_run_task

    _make("s_task", "row_count", "", {"min": 1})
    assert dataquality_run_task.apply(args=["s_task"]).get() == {"ran": 1, "failed": 0}


def test_check_admin_form_rejects_incomplete_definitions(admin_client_dbh):
    url = "/admin/dbhealth/dataqualitycheck/add/"
    base = {"name": "s_form", "severity": "warning", "threshold": "0", "enabled": "on"}
    bad = admin_client_dbh.post(
        url,
        {
            **base,
            "kind": "validity",
            "target_table": "tasks_task",
            "target_column": "nope",
            "params": "{}",
        },
    )
    assert bad.status_code == 200
    assert b"params needs regex or min or max or allowed" in bad.content
    assert b"tasks_task has no column nope" in bad.content
    ok = admin_client_dbh.post(
        url,
        {
            **base,
            "kind": "validity",
            "target_table": "tasks_task",
            "target_column": "priority",
            "params": '{"min": 0}',
        },
    )
    assert ok.status_code == 302 and DataQualityCheck.objects.filter(name="s_form").exists()
