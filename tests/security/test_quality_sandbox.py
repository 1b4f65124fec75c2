"""The attack of issue 10, step by step, against the data-quality sandbox.

A staff user who may add checks wrote custom SQL reading django_session, pg_read_file, pg_authid,
terminated backends, reset pg_stat_statements, reloaded the configuration, and a validity check on
auth_user.password leaked hashes into samples that a view-only operator read. Each attack is tried
twice: as stored in the database (bypassing the admin form, so the parser cannot help) through the
check runner, and straight through the sandbox's connection (the read-only role), where only the
role and the READ ONLY transaction stand in the way.
"""

from __future__ import annotations

import psycopg
import pytest
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError

from apps.audit.models import AuditEventRow
from apps.dbhealth import redaction, runner, services, sqlcheck
from apps.dbhealth.checks import quality
from apps.dbhealth.models import DataQualityCheck, DataQualityResult, Finding
from tests.db import conninfo

pytestmark = pytest.mark.django_db(databases=["default", "readonly", "monitor"])

SCHEMA = "sec_scratch"
ADD_URL = "/admin/dbhealth/dataqualitycheck/add/"


@pytest.fixture(scope="module")
def accounts(django_db_setup, django_db_blocker):
    """A committed domain-looking table whose columns have secret-looking names and values."""
    from apps.core.roles.config import roles

    with django_db_blocker.unblock():
        owner = conninfo("owner")
    r = roles()
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
        conn.execute(
            f"CREATE TABLE {SCHEMA}.accounts (id int PRIMARY KEY, email text, api_token text,"
            " password_hash text, note text, settings jsonb)"
        )
        conn.execute(
            f"INSERT INTO {SCHEMA}.accounts VALUES"
            " (1, 'a@example.com', 'tok-123', 'x', 'pbkdf2_sha256$720000$salt$hash=', "
            """ '{"theme": "dark", "apiKey": "k-1", "nested": {"secret": "s"}}')"""
        )
        conn.execute(
            f"GRANT USAGE ON SCHEMA {SCHEMA} TO {r.readonly}, {r.app};"
            f" GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {r.readonly}, {r.app}"
        )
    yield f"{SCHEMA}.accounts"
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def _run(kind: str, *, table: str = "", column: str = "", params: dict | None = None):
    check = DataQualityCheck.objects.create(
        name=f"attack_{DataQualityCheck.objects.count()}",
        kind=kind,
        target_table=table,
        target_column=column,
        params=params or {},
    )
    return services.dataquality_check_run(check=check)


def _assert_blocked(result: DataQualityResult, *fragments: str) -> None:
    assert not result.passed and result.failing_rows == []
    assert any(f in result.error for f in fragments), result.error


def _sandbox_refuses(sql: str, fragment: str) -> None:
    with pytest.raises(DatabaseError, match=fragment):
        runner.sandbox_fetch(sql, timeout_ms=2_000)


# --- custom SQL attacks -------------------------------------------------------------------------


def test_attack_custom_sql_reads_django_session():
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store["_auth_user_id"] = "1"
    store.create()
    result = _run(
        "custom_sql", params={"sql": "SELECT session_key, session_data FROM django_session"}
    )
    _assert_blocked(result, "sensitive")
    _sandbox_refuses("SELECT session_key FROM django_session", "permission denied")
    assert store.session_key not in str(
        DataQualityResult.objects.values_list("failing_rows", "error")
    )


def test_attack_custom_sql_reads_a_server_file():
    result = _run("custom_sql", params={"sql": "SELECT pg_read_file('/etc/passwd') AS line"})
    _assert_blocked(result, "not allowed")
    _sandbox_refuses("SELECT pg_read_file('/etc/passwd')", "permission denied for function")


def test_attack_custom_sql_reads_pg_authid():
    result = _run("custom_sql", params={"sql": "SELECT rolname, rolpassword FROM pg_authid"})
    _assert_blocked(result, "sensitive")
    _sandbox_refuses("SELECT rolpassword FROM pg_catalog.pg_authid", "permission denied")


def test_attack_custom_sql_terminates_a_backend():
    with psycopg.connect(conninfo("default"), autocommit=True) as victim:
        pid = victim.info.backend_pid
        result = _run("custom_sql", params={"sql": f"SELECT pg_terminate_backend({pid})"})
        _assert_blocked(result, "not allowed")
        _sandbox_refuses(f"SELECT pg_terminate_backend({pid})", "must be a member of the role")
        assert victim.execute("SELECT 1").fetchone() == (1,)


def test_attack_custom_sql_resets_pg_stat_statements():
    result = _run("custom_sql", params={"sql": "SELECT pg_stat_statements_reset()"})
    _assert_blocked(result, "not allowed")
    _sandbox_refuses("SELECT pg_stat_statements_reset()", "permission denied for function")


def test_attack_custom_sql_reloads_the_configuration():
    result = _run("custom_sql", params={"sql": "SELECT pg_reload_conf()"})
    _assert_blocked(result, "not allowed")
    _sandbox_refuses("SELECT pg_reload_conf()", "permission denied for function")


def test_attack_custom_sql_hides_a_sensitive_read_in_a_string():
    """query_to_xml runs SQL from a string, out of the parser's sight: refused by name, and the
    role refuses the read anyway."""
    sql = "SELECT query_to_xml('SELECT * FROM django_session', true, false, '')"
    _assert_blocked(_run("custom_sql", params={"sql": sql}), "not allowed")
    _sandbox_refuses(sql, "permission denied")


def test_attack_custom_sql_writes_through_every_door():
    for sql, fragment in [
        ("WITH d AS (DELETE FROM tasks_task RETURNING id) SELECT * FROM d", "WITH"),
        ("SELECT * INTO sec_copy FROM tasks_task", "INTO"),
        ("SELECT * FROM tasks_task FOR UPDATE", "FOR UPDATE"),
        ("SELECT 1; DROP TABLE tasks_task", "single statement"),
        ("SELECT 1 -- ) q; DROP TABLE tasks_task", ""),  # a comment cannot close the wrapper
        ("UPDATE tasks_task SET title = 'x'", "must be a SELECT"),
        ("SELECT set_config('search_path', 'pg_temp', false)", "not allowed"),
        ("SELECT pg_advisory_lock(1)", "not allowed"),
    ]:
        result = _run("custom_sql", params={"sql": sql})
        if fragment:
            _assert_blocked(result, fragment)
        else:
            assert result.error == "" and result.failed_count == 1
    _sandbox_refuses("UPDATE tasks_task SET title = 'x'", "read-only transaction")
    _sandbox_refuses("SELECT * FROM tasks_task FOR UPDATE", "permission denied|read-only")


def test_an_advisory_lock_taken_by_a_check_does_not_outlive_it():
    runner.sandbox_fetch("SELECT pg_advisory_lock(424242)", timeout_ms=2_000)
    with psycopg.connect(conninfo("default"), autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(424242)").fetchone() == (True,)


def test_the_sandbox_never_runs_as_another_login(settings):
    """READONLY_DATABASE_URL pointing at a more privileged login is refused, not used."""
    settings.FLOWBASE_DB_ROLES = {**settings.FLOWBASE_DB_ROLES, "READONLY": "someone_else"}
    with pytest.raises(runner.CatalogError, match="refused"):
        runner.sandbox_fetch("SELECT 1", timeout_ms=1_000)


# --- structured checks and samples ---------------------------------------------------------


def test_attack_validity_check_on_auth_user_password(django_user_model):
    django_user_model.objects.create_user("victim", password="correct horse")
    result = _run("validity", table="auth_user", column="password", params={"regex": "^$"})
    _assert_blocked(result, "sensitive")
    with pytest.raises(DatabaseError, match="permission denied"):
        quality.dq_validity(
            "auth_user", "password", {"regex": "^$"}, ["id"], sample=5, timeout_ms=2_000
        )


def test_a_table_the_read_only_role_may_not_read_is_a_clear_error():
    result = _run("row_count", table="dbhealth_finding", params={"min": 0})
    _assert_blocked(result, "permission denied: the read-only role")


def test_samples_are_redacted_before_they_are_stored(accounts):
    result = _run("missing", table=accounts, column="note")  # no row misses it: use validity
    result = _run("validity", table=accounts, column="email", params={"regex": "^x$"})
    assert result.error == "" and result.failed_count == 1
    [row] = DataQualityResult.objects.get(pk=result.pk).failing_rows
    assert row["email"] == "a@example.com"
    result = _run("custom_sql", params={"sql": f"SELECT * FROM {accounts}"})
    [row] = DataQualityResult.objects.get(pk=result.pk).failing_rows
    assert row["api_token"] == row["password_hash"] == redaction.REDACTED
    assert row["note"] == redaction.REDACTED  # a Django password hash under any column name
    assert row["settings"] == {
        "theme": "dark",
        "apiKey": redaction.REDACTED,
        "nested": {"secret": redaction.REDACTED},
    }
    assert "tok-123" not in str(DataQualityResult.objects.values_list("failing_rows"))


def test_attack_view_only_operator_looks_at_samples(client, django_user_model, accounts):
    result = _run("custom_sql", params={"sql": f"SELECT id, email FROM {accounts}"})
    services.findings_refresh(sections=["quality"])
    operator = django_user_model.objects.create_user("op", password="x", is_staff=True)
    operator.groups.add(Group.objects.get(name="Database operators"))
    client.force_login(operator)
    page = client.get(f"/admin/dbhealth/databasehealth/quality/{result.check_ref_id}/")
    assert page.status_code == 200
    assert b"a@example.com" not in page.content and b'id="failing-rows-hidden"' in page.content
    detail = client.get(f"/admin/dbhealth/dataqualityresult/{result.pk}/change/")
    assert detail.status_code == 200 and b"a@example.com" not in detail.content
    findings = client.get("/admin/dbhealth/databasehealth/findings/")
    assert b"a@example.com" not in findings.content
    finding = Finding.objects.get(key=f"quality.failed:{result.check_ref.name}")
    assert "sample" not in finding.evidence and finding.evidence["sample_rows"] == 1
    # With the separate permission the (redacted) rows show.
    operator.user_permissions.add(Permission.objects.get(codename="view_failing_rows"))
    page = client.get(f"/admin/dbhealth/databasehealth/quality/{result.check_ref_id}/")
    assert b"a@example.com" in page.content


# --- the admin form, permissions, audit --------------------------------------------------------


@pytest.fixture
def check_author(client, django_user_model):
    user = django_user_model.objects.create_user("author", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "add_dataqualitycheck",
                "change_dataqualitycheck",
                "view_dataqualitycheck",
            ]
        )
    )
    client.force_login(user)
    return user


def _form(**fields):
    base = {"name": "s_sec", "severity": "warning", "threshold": "0", "enabled": "on"}
    return {**base, "target_table": "", "target_column": "", "params": "{}", **fields}


def test_custom_sql_needs_its_own_permission(client, check_author):
    response = client.post(
        ADD_URL, _form(kind="custom_sql", params='{"sql": "SELECT id FROM tasks_task"}')
    )
    assert response.status_code == 200 and b"dbhealth.author_custom_sql" in response.content
    assert not DataQualityCheck.objects.filter(name="s_sec").exists()
    ok = client.post(
        ADD_URL, _form(kind="row_count", target_table="tasks_task", params='{"min": 0}')
    )
    assert ok.status_code == 302  # structured checks need only "add"
    check = DataQualityCheck.objects.get(name="s_sec")
    change = client.post(
        f"/admin/dbhealth/dataqualitycheck/{check.pk}/change/",
        _form(kind="custom_sql", params='{"sql": "SELECT 1"}'),
    )
    assert change.status_code == 200 and b"dbhealth.author_custom_sql" in change.content


def test_the_form_parses_the_sql_and_refuses_sensitive_targets(client, check_author):
    check_author.user_permissions.add(Permission.objects.get(codename="author_custom_sql"))
    for params, message in [
        ('{"sql": "SELECT 1; SELECT 2"}', b"single statement"),
        ('{"sql": "SELECT \'a;b\' AS x"}', None),  # a `;` inside a literal is fine
        ('{"sql": "WITH d AS (DELETE FROM tasks_task RETURNING id) SELECT * FROM d"}', b"WITH"),
        ('{"sql": "SELECT * FROM tasks_task FOR SHARE"}', b"FOR UPDATE / FOR SHARE"),
        ('{"sql": "SELECT * FROM django_session"}', b"sensitive"),
        ('{"sql": "SELEC 1"}', b"does not parse"),
    ]:
        DataQualityCheck.objects.filter(name="s_sec").delete()
        response = client.post(ADD_URL, _form(kind="custom_sql", params=params))
        if message is None:
            assert response.status_code == 302, response.content[-2000:]
        else:
            assert response.status_code == 200 and message in response.content, params
    response = client.post(
        ADD_URL,
        _form(name="s_sec2", kind="validity", target_table="auth_user", target_column="password",
              params='{"regex": "^$"}'),
    )  # fmt: skip
    assert response.status_code == 200 and b"auth_user is a sensitive table" in response.content


def test_every_definition_change_is_an_audit_row(client, check_author):
    check_author.user_permissions.add(Permission.objects.get(codename="author_custom_sql"))
    client.post(ADD_URL, _form(kind="custom_sql", params='{"sql": "SELECT 1 AS a"}'))
    check = DataQualityCheck.objects.get(name="s_sec")
    client.post(
        f"/admin/dbhealth/dataqualitycheck/{check.pk}/change/",
        _form(kind="custom_sql", params='{"sql": "SELECT 2 AS a"}'),
    )
    rows = list(
        AuditEventRow.objects.filter(table_name="dbhealth_dataqualitycheck", row_pk=str(check.pk))
        .order_by("created_at", "id")
        .values_list("action", "actor_id", "changes")
    )
    assert [(a, actor) for a, actor, _ in rows] == [
        ("INSERT", check_author.pk),
        ("UPDATE", check_author.pk),
    ]
    assert rows[1][2]["params"] == {
        "old": {"sql": "SELECT 1 AS a"},
        "new": {"sql": "SELECT 2 AS a"},
    }


def test_editing_a_check_never_runs_it(client, check_author, monkeypatch):
    """Without run_quality_checks a check runs hourly, never sooner: saving it runs nothing."""
    ran = []
    monkeypatch.setattr(services, "_evaluate", lambda check: ran.append(check) or (0, 0, []))
    client.post(ADD_URL, _form(kind="row_count", target_table="tasks_task", params='{"min": 0}'))
    check = DataQualityCheck.objects.get(name="s_sec")
    client.post(
        f"/admin/dbhealth/dataqualitycheck/{check.pk}/change/",
        _form(kind="row_count", target_table="tasks_task", params='{"min": 5}', enabled=""),
    )
    assert ran == [] and not DataQualityResult.objects.filter(check_ref=check).exists()
    run = client.post("/admin/dbhealth/databasehealth/quality/run/", {"name": "s_sec"})
    assert run.status_code == 403 and ran == []


def test_the_parser_not_a_semicolon_search():
    assert sqlcheck.validate_select("SELECT ';' AS x;") == "SELECT ';' AS x"
    assert sqlcheck.validate_select("VALUES (1), (2)") == "VALUES (1), (2)"
    with pytest.raises(sqlcheck.UnsafeSQL, match="single statement"):
        sqlcheck.validate_select("SELECT 1;;SELECT 2")
    with pytest.raises(sqlcheck.UnsafeSQL, match="not allowed"):
        sqlcheck.validate_select("SELECT * FROM t WHERE x = (SELECT pg_ls_dir('.') LIMIT 1)")


def test_operators_group_has_no_sample_permission():
    codenames = set(
        Group.objects.get(name="Database operators").permissions.values_list("codename", flat=True)
    )
    assert "view_failing_rows" not in codenames and "author_custom_sql" not in codenames


def test_activity_page_masks_other_sessions_literals(admin_client):
    with psycopg.connect(conninfo("default"), autocommit=True) as other:
        other.execute("SELECT 'session-key-abc123' AS k, 42 AS n")
        page = admin_client.get("/admin/dbhealth/databasehealth/activity/?refresh=1")
        assert page.status_code == 200
        assert b"session-key-abc123" not in page.content
        assert "SELECT &#x27;…&#x27; AS k, 0 AS n".encode() in page.content
