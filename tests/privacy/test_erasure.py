"""erase_person: every place a person appears, the dry run, the audit log's redaction path.

Everything runs on the owner connection (the erasure is a maintenance job), inside the test's
transaction on that alias: the world is built there, erased there, and searched there.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.blueprints.models import Template
from apps.dbhealth.models import Finding
from apps.events.models import Event
from apps.knowledge.models import Article
from apps.privacy import identity, services
from apps.projects.models import Project
from apps.runs.models import FormResponse, FormSchema, WorkflowRun
from apps.tasks.models import Task
from apps.workflows.models import Workflow

pytestmark = pytest.mark.django_db(databases=["default", "owner"])

DB = "owner"
FULL_NAME = "Dora Quinlan"
USERNAME = "dquinlan"
EMAIL = "dora.quinlan@example.com"
IDENTIFIERS = (FULL_NAME, USERNAME, EMAIL)
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "privacy"

# Every text/JSON column of every table, partition, archived table and materialized view.
ALL_TEXT_COLUMNS = """
SELECT n.nspname, c.relname, a.attname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname IN ('public', 'archive') AND c.relkind IN ('r', 'm')
  AND format_type(a.atttypid, NULL) IN ('text', 'character varying', 'character', 'json', 'jsonb',
                                        'text[]', 'character varying[]')
ORDER BY 1, 2, 3
"""


def run(sql: str, params=None):
    with connections[DB].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def search_everything(terms=IDENTIFIERS) -> tuple[int, list[str]]:
    """(columns searched, "schema.table.column" holding any term as a substring, any case)."""
    columns = run(ALL_TEXT_COLUMNS)
    hits = []
    for schema, table, column in columns:
        found = run(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE ANY(%s)',
            [[f"%{t}%" for t in terms]],
        )[0][0]
        if found:
            hits.append(f"{schema}.{table}.{column}")
    return len(columns), hits


def fingerprint() -> str:
    """A digest of every text/JSON value of every relation (and the audit log's row count)."""
    digest = hashlib.sha256()
    for schema, table, column in run(ALL_TEXT_COLUMNS):
        rows = run(
            f"SELECT md5(coalesce(string_agg(\"{column}\"::text, '|' ORDER BY ctid), ''))"
            f' FROM "{schema}"."{table}"'
        )
        digest.update(f"{schema}.{table}.{column}={rows[0][0]};".encode())
    digest.update(str(run("SELECT count(*) FROM audit_auditevent")[0][0]).encode())
    return digest.hexdigest()


@pytest.fixture
def world():
    """The person in every kind of place the models offer, plus a bystander."""
    user_model = get_user_model()
    person = user_model.objects.db_manager(DB).create_user(
        USERNAME, EMAIL, "pw", first_name="Dora", last_name="Quinlan", is_staff=True
    )
    operator = user_model.objects.db_manager(DB).create_user("operator", "op@example.com", "pw")
    project = Project.objects.using(DB).create(
        name="Payments", slug="payments", description=f"Owner: {FULL_NAME} <{EMAIL}>"
    )
    workflow = Workflow.objects.using(DB).create(
        project=project, name=f"{FULL_NAME} onboarding", legacy={"owner": USERNAME}
    )
    task = Task.objects.using(DB).create(
        workflow=workflow,
        title="Rotate keys",
        assignee=FULL_NAME,
        description=f"Ask {EMAIL} first",
        requirements=[f"reviewed by {FULL_NAME}"],
        legacy={"assignee": FULL_NAME, "notes": ["cc DQuinlan", {"by": USERNAME}]},
    )
    Task.objects.using(DB).filter(pk=task.pk).update(status="in_progress")  # an UPDATE audit row
    bystander = Task.objects.using(DB).create(workflow=workflow, title="Other", assignee="bob")
    Template.objects.using(DB).create(name="deploy", type="workflow", created_by=USERNAME)
    Article.objects.using(DB).create(
        title="Runbook", slug="runbook", content=f"Written by {FULL_NAME}.", tags=["ops"]
    )
    Event.objects.using(DB).create(
        event_type="login",
        source_component="web",
        payload={"user_id": person.pk, "email": EMAIL, "count": person.pk + 1},
    )
    # Outside every range partition: the default partition is searched too.
    Event.objects.using(DB).create(
        event_type="note",
        source_component="web",
        payload={"text": f"{FULL_NAME} again"},
        created_at=datetime(2031, 6, 1, tzinfo=UTC),
    )
    WorkflowRun.objects.using(DB).create(workflow=workflow, trigger_data={"user": USERNAME})
    schema = FormSchema.objects.using(DB).create(name="intake")
    FormResponse.objects.using(DB).create(
        form_schema=schema, data={"name": FULL_NAME}, metadata={"user_id": person.pk}
    )
    finding = Finding.objects.using(DB).create(
        key="k1",
        kind="dq",
        severity="info",
        object_name="tasks_task",
        title="check",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
        resolved_by=person,
        note=f"resolved with {USERNAME}",
    )
    LogEntry.objects.using(DB).create(
        user=person,
        content_type=ContentType.objects.db_manager(DB).get_for_model(Task),
        object_id=str(task.pk),
        object_repr=f"Task for {FULL_NAME}",
        action_flag=CHANGE,
        change_message="[]",
    )
    AuditEvent.objects.using(DB).create(
        table_name="tasks_task",
        row_pk=str(task.pk),
        action="ACTION",
        changes={"action": "cancel", "note": "x"},
        actor_id=person.pk,
    )
    session = SessionStore()
    Session.objects.using(DB).create(
        session_key="s" * 32,
        session_data=session.encode({"_auth_user_id": str(person.pk)}),
        expire_date=timezone.now() + timedelta(days=1),
    )
    # The archive: an archived task, a detached events partition, a detached audit partition.
    run(
        "INSERT INTO archive.tasks_task (id, created_at, updated_at, title, description, details,"
        " test_strategy, status, priority, requirements, acceptance_criteria, assignee, legacy,"
        " workflow_id) VALUES (999001, now(), now(), 'old', '', '', '', 'done', 5, '[]', '[]',"
        " %s, '{}', 1)",
        [FULL_NAME],
    )
    run("CREATE TABLE archive.events_event_p201901 (LIKE events_event INCLUDING DEFAULTS)")
    run(
        "INSERT INTO archive.events_event_p201901 (event_type, severity, source_component,"
        " target_component, payload, correlation_id, trace_id, created_at, id)"
        " VALUES ('old', 'info', 'web', '', %s, '', '', '2019-01-05', 1)",
        [json.dumps({"who": EMAIL})],
    )
    run("CREATE TABLE archive.audit_auditevent_p201901 (LIKE audit_auditevent INCLUDING DEFAULTS)")
    run(
        "INSERT INTO archive.audit_auditevent_p201901 (table_name, row_pk, action, changes,"
        " actor_id, created_at, id) VALUES ('tasks_task', '1', 'UPDATE', %s, %s, '2019-01-05', 1)",
        [json.dumps({"assignee": {"old": USERNAME, "new": "bob"}}), person.pk],
    )
    run("REFRESH MATERIALIZED VIEW workflow_summary")
    return {
        "person": person,
        "operator": operator,
        "task": task,
        "bystander": bystander,
        "finding": finding,
    }


def erase(*args) -> dict:
    out = io.StringIO()
    call_command("erase_person", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_dry_run_counts_every_place_and_changes_nothing(world):
    before = fingerprint()
    report = erase("--user", str(world["person"].pk))
    assert fingerprint() == before
    assert report["applied"] is False
    places = {(r["table"], r["column"]): r for r in report["by_table"]}
    assert places[("tasks_task", "assignee")]["kind"] == "identifier"
    assert places[("tasks_task", "assignee")]["rows"] == 2  # live and archived, not the bystander
    for key in [
        ("tasks_task", "description"),
        ("tasks_task", "legacy"),
        ("tasks_task", "requirements"),
        ("projects_project", "description"),
        ("workflows_workflow", "name"),
        ("workflows_workflow", "legacy"),
        ("blueprints_template", "created_by"),
        ("knowledge_article", "content"),
        ("events_event", "payload"),
        ("runs_workflowrun", "trigger_data"),
        ("runs_formresponse", "data"),
        ("runs_formresponse", "metadata"),  # the account id under a declared key
        ("dbhealth_finding", "note"),
        ("dbhealth_finding", "resolved_by_id"),
        ("django_admin_log", "object_repr"),
        ("django_admin_log", "user_id"),
        ("audit_auditevent", "changes"),
        ("audit_auditevent", "actor_id"),
        ("workflow_summary", "workflow_name"),
        ("auth_user", "*"),
        ("django_session", "*"),
    ]:
        assert key in places, key
    assert places[("events_event", "payload")]["rows"] == 3  # current, default, archived
    assert places[("django_admin_log", "user_id")]["action"] == "keep"
    assert places[("dbhealth_finding", "resolved_by_id")]["action"] == "set null"
    assert not any(r["action"] == "refuse" for r in report["by_table"])
    assert report["person"]["pseudonym"].startswith("erased-")
    assert FULL_NAME not in json.dumps(report) and EMAIL not in json.dumps(report)


def test_erasure_leaves_no_identifier_in_any_column_and_records_itself(world):
    person, operator = world["person"], world["operator"]
    started = timezone.now()
    report = erase(
        "--user",
        str(person.pk),
        "--apply",
        "--requested-by",
        "dpo@example.com",
        "--reason",
        "ticket GDPR-7",
        "--actor",
        str(operator.pk),
    )
    assert report["applied"] and report["verified"]
    pseudonym = report["person"]["pseudonym"]

    columns, hits = search_everything()
    assert hits == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "erasure.json").write_text(
        json.dumps(
            {
                "columns_searched_by_test": columns,
                "columns_searched_by_erasure": report["columns_searched"],
                "relations_searched": report["relations_searched"],
                "rows_changed": report["rows_changed"],
                "audit_rows_redacted": report["audit_rows_redacted"],
                "by_table": report["by_table"],
            },
            indent=2,
        )
    )
    print(
        f"\nerasure: {columns} text/JSON columns searched, {report['rows_changed']} rows changed"
        f" ({report['audit_rows_redacted']} audit rows redacted)"
    )

    # Pseudonymised, not lost: the bystander and the shape of every document stay.
    task = Task.objects.using(DB).get(pk=world["task"].pk)
    assert task.assignee == pseudonym and task.status == "in_progress"
    assert task.legacy == {"assignee": pseudonym, "notes": [f"cc {pseudonym}", {"by": pseudonym}]}
    assert Task.objects.using(DB).get(pk=world["bystander"].pk).assignee == "bob"
    event = Event.objects.using(DB).filter(event_type="login").get()
    assert event.payload == {"user_id": None, "email": pseudonym, "count": person.pk + 1}
    assert Finding.objects.using(DB).get(pk=world["finding"].pk).resolved_by_id is None
    account = get_user_model().objects.using(DB).get(pk=person.pk)
    assert (account.username, account.email, account.is_active) == (pseudonym, "", False)
    assert not account.has_usable_password()
    assert not Session.objects.using(DB).exists()
    assert LogEntry.objects.using(DB).get().user_id == person.pk  # points at the pseudonym
    assert not AuditEvent.objects.using(DB).filter(actor_id=person.pk).exists()
    assert run("SELECT actor_id FROM archive.audit_auditevent_p201901") == [(None,)]

    # The trail: a tombstone (when, by whom, which person-key hash, counts) and one record per
    # redaction call; neither names the person.
    tombstone = AuditEvent.objects.using(DB).get(changes__action="erasure")
    # now() of the erasure's transaction (here the test's, begun just before).
    assert started - timedelta(minutes=1) < tombstone.created_at <= timezone.now()
    assert tombstone.actor_id == operator.pk and tombstone.row_pk == pseudonym
    assert tombstone.changes["requested_by"] == "dpo@example.com"
    assert tombstone.changes["key_hash"] == report["person"]["key_hash"]
    assert tombstone.changes["counts"]["tasks_task.assignee"] == 2
    assert tombstone.changes["rows_changed"] == report["rows_changed"]
    redactions = AuditEvent.objects.using(DB).filter(changes__action="audit_redaction")
    assert {r.changes["relation"] for r in redactions} >= {"archive.audit_auditevent_p201901"}
    assert sum(r.changes["rows"] for r in redactions) == report["audit_rows_redacted"]
    # The erasure's own row changes are in the audit log too, redacted, in its transaction.
    captured = AuditEvent.objects.using(DB).filter(
        table_name="tasks_task", row_pk=str(task.pk), txid=tombstone.txid, action="UPDATE"
    )
    assert captured.get(changes__has_key="assignee").changes["assignee"] == {
        "old": pseudonym,
        "new": pseudonym,
    }

    # Idempotent: the account is now a pseudonym; the same name as an assignee finds nothing.
    again = erase("--assignee", FULL_NAME, "--also", EMAIL, "--also", USERNAME)
    assert again["by_table"] == [] and again["person"]["pseudonym"] != pseudonym


def test_assignee_matches_whole_words_only(world):
    Task.objects.using(DB).create(
        workflow=world["task"].workflow, title="Dora Quinlanson reviews", assignee="Dora Quinlanson"
    )
    erase("--assignee", FULL_NAME, "--apply")
    assert Task.objects.using(DB).filter(assignee="Dora Quinlanson").count() == 1
    assert not Task.objects.using(DB).filter(assignee=FULL_NAME).exists()


def test_a_match_in_a_table_never_rewritten_fails_the_erasure_and_changes_nothing(world):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.using(DB).create(every=5, period="minutes")
    PeriodicTask.objects.using(DB).create(
        name="x", task="t", interval=every, description=f"ask {FULL_NAME}"
    )
    report = erase("--assignee", FULL_NAME)
    refused = [r for r in report["by_table"] if r["action"] == "refuse"]
    assert refused == [
        {
            "table": "django_celery_beat_periodictask",
            "column": "description",
            "kind": "text",
            "action": "refuse",
            "rows": 1,
        }
    ]
    before = fingerprint()
    with pytest.raises(CommandError, match=r"django_celery_beat_periodictask\.description"):
        erase("--assignee", FULL_NAME, "--apply")
    assert fingerprint() == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--assignee", "Al"], "shorter than 3"),
        (["--assignee", 'O"Brien'], "quotes"),
        (["--assignee", "erased-1234"], "pseudonym"),
        (["--user", "999999"], "no user with id 999999"),
        (["--user", "abc"], "not a user id"),
        (["--assignee", FULL_NAME, "--reason", f"asked by {FULL_NAME}"], "--reason"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(world, args, message):
    with pytest.raises(CommandError, match=message):
        erase(*args)


# --- the redaction path ------------------------------------------------------------------------

REDACT = (
    "SELECT public.flowbase_audit_redact(%s::regclass, %s::timestamptz[], %s::bigint[],"
    " %s::text[], %s, NULL, '{}')"
)


def _audit_row(**changes) -> AuditEvent:
    return AuditEvent.objects.using(DB).create(
        table_name="tasks_task", row_pk="1", action="UPDATE", changes=changes
    )


def test_the_app_cannot_run_the_redaction_function():
    row = _audit_row(assignee={"old": FULL_NAME})
    refused = pytest.raises(DatabaseError, match="permission denied")
    with refused, transaction.atomic(), connections["default"].cursor() as cursor:
        cursor.execute(
            REDACT,
            ["audit_auditevent", [row.created_at], [row.id], [FULL_NAME], "erased-0123456789ab"],
        )


@pytest.mark.parametrize(
    "target, terms, replacement, message",
    [
        ("tasks_task", [FULL_NAME], "erased-0123456789ab", "is not the audit log"),
        ("audit_auditevent", [FULL_NAME], "anything", "must be a pseudonym"),
        ("audit_auditevent", ["ab"], "erased-0123456789ab", "3 to 254 characters"),
        ("audit_auditevent", ["erased"], "erased-0123456789ab", "matches the pseudonym"),
    ],
)
def test_the_redaction_function_refuses_anything_but_its_narrow_job(
    target, terms, replacement, message
):
    row = _audit_row(assignee={"old": FULL_NAME})
    with pytest.raises(DatabaseError, match=message), transaction.atomic(using=DB):
        run(REDACT, [target, [row.created_at], [row.id], terms, replacement])


def test_the_redaction_function_changes_only_personal_values_and_audits_itself():
    row = _audit_row(assignee={"old": FULL_NAME, "new": "bob"}, note=f"by {EMAIL}")
    untouched = _audit_row(assignee={"old": FULL_NAME})  # not among the given rows
    changed = run(
        REDACT,
        ["audit_auditevent", [row.created_at], [row.id], [FULL_NAME, EMAIL], "erased-0123456789ab"],
    )[0][0]
    assert changed == 1
    fresh = AuditEvent.objects.using(DB).get(pk=row.pk)
    assert fresh.changes == {
        "assignee": {"old": "erased-0123456789ab", "new": "bob"},
        "note": "by erased-0123456789ab",
    }
    assert (fresh.table_name, fresh.row_pk, fresh.action, fresh.created_at) == (
        row.table_name,
        row.row_pk,
        row.action,
        row.created_at,
    )
    assert AuditEvent.objects.using(DB).get(pk=untouched.pk).changes["assignee"]["old"] == FULL_NAME
    record = AuditEvent.objects.using(DB).get(changes__action="audit_redaction")
    assert record.changes["rows"] == 1 and record.changes["db_user"]
    assert FULL_NAME not in json.dumps(record.changes)
    # The guard is back right after: a plain UPDATE is still refused.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(using=DB):
        run("UPDATE audit_auditevent SET changes = '{}' WHERE id = %s", [row.id])


def test_identity_pseudonym_is_stable_and_keyed(settings):
    first = identity.person_for_assignee("Dora Quinlan")
    assert first.pseudonym == identity.person_for_assignee("  dora quinlan ").pseudonym
    settings.PRIVACY_PSEUDONYM_KEY = "another key"
    assert identity.person_for_assignee("Dora Quinlan").pseudonym != first.pseudonym


def test_report_of_an_unknown_name_is_empty():
    report = services.person_erase(person=identity.person_for_assignee("Nobody Atall"), using=DB)
    assert report.by_table() == [] and report.columns_searched > 100
