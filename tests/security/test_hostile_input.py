"""A corpus of hostile query strings, headers and form bodies against every admin URL.

Every URL pattern of admin.site is enumerated (changelist, add, change, delete, history of each
registered model, the site-wide views, the Database pages and their actions) and filled with
real ids from the demo data set. The client is a logged-in superuser with CSRF enforced. Each
response must be free of 5xx and tracebacks; where a write was refused, the touched tables
must be unchanged (row count and content hash). The per-category tally is printed and written
to artifacts/security/hostile-input.json.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client

from tests.conftest import owner_credentials_on_default

from . import hostile_corpus as corpus
from .hostile_harness import (
    ACCEPTED,
    DATA,
    FAILED,
    REFUSED,
    Rotation,
    Tally,
    admin_routes,
    classify,
    encode,
    extract_form,
    fill_route,
    model_admin_for_route,
    quoted_table,
    tables_checksum,
)

# seed_demo, maintain, archive and refresh_views run their DDL as the owner, the Database pages
# read as the monitor, data-quality checks as the read-only role.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases=["default", "owner", "monitor", "readonly"]),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "security"
DBHEALTH_PREFIX = "dbhealth/databasehealth/"
HOSTILE_IDS = ["' OR 1=1", "²", "9" * 40, "%00", "-1", "..%2F..%2Fetc%2Fpasswd", corpus.TEN_KB]
# Requests per URL for each part of the corpus, the rest shared out in rotation (Rotation).
PER_URL = {
    "changelist": 6,  # besides the core set
    "page queries": 3,  # add and change views
    "cheap page queries": 1,  # delete, history, the old change URL: they only look the object up
    "path ids": 2,
    "text": 2,
    "json": 3,  # besides JSON nested 100,000 levels, sent to every JSON field
    "typed": 1,
    "inline": 1,
    "whole form": 2,
    "actions": 3,
}
AUDIT_TABLES = ["django_admin_log", "audit_auditevent"]


class Attack:
    """One logged-in superuser with CSRF enforced, and the tally of what was tried."""

    def __init__(self, user):
        self.user = user
        self.client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        self.login()
        self.tally = Tally()
        self.rotation = Rotation()
        self._last_exception: str | None = None
        got_request_exception.connect(self._on_exception)

    def login(self):
        self.client.force_login(self.user)
        self.client.get("/admin/")

    def _after(self, headers):
        # A forged Cookie header ends the session (the server deletes the cookie), as in a browser.
        if headers and "HTTP_COOKIE" in headers:
            self.login()

    def close(self):
        got_request_exception.disconnect(self._on_exception)

    def _on_exception(self, sender, request=None, **kwargs):
        import sys

        exc = sys.exc_info()[1]
        self._last_exception = f"{type(exc).__name__}: {str(exc)[:200]}"
        self.tally.exceptions.append(
            f"{request.path if request else '?'} -> {self._last_exception}"
        )

    @property
    def csrf(self) -> str:
        return self.client.cookies["csrftoken"].value

    def get(self, category: str, path: str, params=None, headers=None, *, normal_status=None):
        """`normal_status`: what a clean request gets (e.g. /readyz answers 503 when not
        ready); hostile input may get that or a refusal, nothing worse."""
        self._last_exception = None
        query = encode(params or {})
        url = f"{path}?{query}" if query else path
        started = time.monotonic()
        response = self.client.get(url, **(headers or {}))
        self._after(headers)
        outcome, reason = classify(response)
        if outcome == FAILED and response.status_code == normal_status and not self._last_exception:
            outcome, reason = DATA, f"{normal_status} as for a clean request"
        shown = {k: v[:60] for k, v in (headers or {}).items()}
        what = f"GET {url[:160]} {shown or ''} -> {reason} {self._last_exception or ''}"
        self.tally.record(category, outcome, what, time.monotonic() - started)
        return response, outcome

    def post(self, category, path, fields, *, tables=(), csrf=True, headers=None, unchanged=False):
        """POST a urlencoded body (bytes values verbatim); a refused write changes nothing.
        `csrf`: True sends the session's token, False none, a string that forged token.
        `unchanged`: the tables must not change whatever the answer (a refusal by message)."""
        self._last_exception = None
        fields = list(fields.items()) if isinstance(fields, dict) else list(fields)
        fields = [(k, v) for k, v in fields if k != "csrfmiddlewaretoken"]
        if csrf:
            fields.append(("csrfmiddlewaretoken", self.csrf if csrf is True else csrf))
        before = tables_checksum(list(tables))
        started = time.monotonic()
        response = self.client.post(
            path,
            encode(fields),
            content_type="application/x-www-form-urlencoded",
            **(headers or {}),
        )
        self._after(headers)
        outcome, reason = classify(response)
        if csrf is not True and outcome != FAILED and response.status_code != 403:
            outcome, reason = FAILED, f"{reason}: accepted without a valid CSRF token"
        what = f"POST {path} {summarize(fields)} -> {reason} {self._last_exception or ''}"
        if tables and (outcome == REFUSED or unchanged):
            after = tables_checksum(list(tables))
            changed = [t for t in tables if before.get(t) != after.get(t)]
            if changed:
                outcome, what = FAILED, f"{what}: refused but changed {changed}"
        self.tally.record(category, outcome, what, time.monotonic() - started)
        return response, outcome


def summarize(fields) -> str:
    shown = []
    for key, value in fields:
        if key == "csrfmiddlewaretoken":
            continue
        text = value if isinstance(value, str) else repr(value)
        shown.append(f"{key}={text[:40]!r}")
    return " ".join(shown)[:300]


# --- the data set --------------------------------------------------------------------------

PARTITIONS_SQL = """
SELECT c.oid::regclass::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
"""


@pytest.fixture
def schema_as_found():
    """A transactional test's flush only truncates Django's tables. What this test adds beyond
    them is undone here: the monthly partitions seed_demo creates for 18 months of history, the
    rows moved to the (unmanaged) archive tables, and the materialized views' contents."""
    with connection.cursor() as cursor:
        cursor.execute(PARTITIONS_SQL)
        before = {row[0] for row in cursor.fetchall()}
    yield
    # TRUNCATE and DROP are the owner's: the tests run as the app.
    with owner_credentials_on_default():
        call_command("flush", interactive=False, verbosity=0)
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "TRUNCATE archive.workflows_workflow, archive.tasks_task, archive.tasks_taskdependency"
        )
        cursor.execute(PARTITIONS_SQL)
        for name in sorted({row[0] for row in cursor.fetchall()} - before):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    call_command("refresh_views", stdout=io.StringIO())


def build_world(django_user_model):
    from apps.dbhealth.models import DataQualityCheck
    from tests.conftest import restore_shipped_rows

    if not DataQualityCheck.objects.exists():  # truncated by an earlier transactional test
        restore_shipped_rows()
    call_command("seed_demo", "--scale", "small", verbosity=0)
    from django.utils import timezone
    from django_celery_beat.models import ClockedSchedule, SolarSchedule

    from apps.dbhealth import services as dbh_services
    from apps.ops import services as ops_services
    from apps.runs import services as runs_services
    from apps.tasks.services import task_dependency_create, task_status_update
    from tests.factories import domain as f

    # What the demo set lacks, so that every admin has an object to attack.
    form = runs_services.form_schema_publish(name="intake", schema={"fields": ["title"]})
    runs_services.form_response_submit(form_schema=form, data={"title": "x"})
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)
    # A completed workflow with a dependency, for the archive's admins.
    first = f.TaskFactory()
    second = f.TaskFactory(workflow=first.workflow)
    task_dependency_create(task=first, depends_on=second)
    from apps.access.services import membership_set

    member = django_user_model.objects.create_user("hostile-member", is_staff=True)
    membership_set(project_id=first.workflow.project_id, user_id=member.pk, role="editor")
    for task in (second, first):
        task_status_update(task=task, status="done")

    from apps.embeddings.services import embedding_record

    embedding_record(
        entity_type="tasks.task",
        entity_id=first.pk,
        provider="local",
        model_name="m",
        namespace="n",
        dimension=8,
        external_id="hostile-1",
    )
    from apps.backups.models import BackupRun, RestoreTest

    backup = BackupRun.objects.create(
        kind="logical", status="ok", database="flowbase", started_at=timezone.now()
    )
    RestoreTest.objects.create(
        backup=backup,
        status="passed",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        duration_ms=1,
        scratch_database="flowbase_verify_1",
    )
    dbh_services.dataquality_run()
    dbh_services.findings_refresh()
    ops_services.heartbeat_record()
    call_command("refresh_views", stdout=io.StringIO())
    call_command("maintain", stdout=io.StringIO())
    call_command(
        "archive",
        "--apply",
        "--older-than",
        "0",
        "--batch-size",
        "2",
        "--max-batches",
        "1",
        stdout=io.StringIO(),
    )
    # A hold on a restored workflow (archive_restore writes it as the owner), for its admin.
    from apps.ops.models import ArchiveHold

    ArchiveHold.objects.using("owner").create(
        workflow_id=first.workflow_id, restored_at=timezone.now()
    )
    # The first user (the one the user admin's forms are attacked on) is not the attacker.
    django_user_model.objects.create_user("victim", "v@example.com", "victim-pw-1!", is_staff=True)
    return django_user_model.objects.create_superuser("hostile", "h@example.com", "hostile-pw-1!")


def first_pk(model):
    try:
        with transaction.atomic():
            return model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    except DatabaseError:  # a table-less model (the Database section's entry)
        return None


def route_values(route, model_admin, user, extra) -> list[dict[str, str]] | None:
    """Concrete parameter sets for a route (the real one first), or None if unknown."""
    values: dict[str, str] = {}
    for param in route.params:
        if param == "object_id":
            pk = first_pk(model_admin.model) if model_admin else None
            values[param] = quote(str(pk)) if pk is not None else "999999999"
        elif param == "content_type_id":
            values[param] = str(extra["content_type_id"])
        elif param == "id":
            values[param] = str(user.pk)
        elif param == "pid":
            values[param] = str(extra["own_pid"])
        elif param == "pk" and "quality" in route.route:
            values[param] = str(extra["check_pk"])
        elif param == "pk" and "findings" in route.route:
            values[param] = str(extra["finding_pk"])
        elif param == "action":
            values[param] = "cancel" if "activity" in route.route else "snooze"
        else:
            return None
    sets = [values]
    if "action" in values:
        other = "terminate" if values["action"] == "cancel" else "resolve"
        sets += [{**values, "action": other}, {**values, "action": "' OR 1=1"}]
    return sets


# --- forms ---------------------------------------------------------------------------------


def field_kinds(model_admin, request, obj) -> dict[str, str]:
    """HTML control name -> corpus kind, from the admin's own form and inline formsets."""
    from django import forms

    def kind_of(formfield) -> str:
        if isinstance(formfield, forms.JSONField):
            return "json"
        if isinstance(formfield, forms.ModelChoiceField):
            return "fk"
        if isinstance(formfield, forms.TypedChoiceField | forms.ChoiceField):
            return "choice"
        if isinstance(formfield, forms.DecimalField | forms.FloatField):
            return "decimal"
        if isinstance(formfield, forms.IntegerField):
            return "number"
        if isinstance(formfield, forms.DateField | forms.DateTimeField | forms.SplitDateTimeField):
            return "date"
        if isinstance(formfield, forms.BooleanField | forms.NullBooleanField):
            return "bool"
        return "text"

    kinds: dict[str, str] = {}
    form_class = model_admin.get_form(request, obj, change=obj is not None)
    for name, formfield in form_class.base_fields.items():
        kinds[name] = kind_of(formfield)
        if isinstance(formfield, forms.SplitDateTimeField):
            kinds[f"{name}_0"] = kinds[f"{name}_1"] = "date"
    for formset_class, _inline in model_admin.get_formsets_with_inlines(request, obj):
        prefix = formset_class.get_default_prefix()
        for name, formfield in formset_class.form.base_fields.items():
            kinds[f"{prefix}-0-{name}"] = kind_of(formfield)
        for management in ("TOTAL_FORMS", "INITIAL_FORMS"):
            kinds[f"{prefix}-{management}"] = "management"
    return kinds


XSS = "<script>alert(1)</script>"


def check_escaped(attack: Attack, model_admin, change_url: str):
    """A stored script tag comes back escaped on the change page and the changelist."""
    opts = model_admin.model._meta
    changelist = f"/admin/{opts.app_label}/{opts.model_name}/"
    for url in (change_url, changelist):
        body = attack.client.get(url).content.decode("utf-8", "replace")
        outcome = FAILED if XSS in body else REFUSED
        attack.tally.record("stored markup", outcome, f"GET {url}: {XSS} rendered unescaped")


def touched_tables(model_admin, request, obj) -> list[str]:
    tables = [quoted_table(model_admin.model)]
    for inline in model_admin.get_inline_instances(request, obj):
        tables.append(quoted_table(inline.model))
    return sorted(set(tables)) + AUDIT_TABLES


def attack_forms(attack: Attack, model_admin, request, obj, url: str, *, whole_form: bool):
    response = attack.client.get(url)
    if response.status_code != 200:
        return
    form_id = f"{model_admin.model._meta.model_name}_form"
    baseline, _controls = extract_form(response.content.decode(), form_id)
    if not baseline:
        return
    kinds = field_kinds(model_admin, request, obj)
    tables = touched_tables(model_admin, request, obj)
    names = [name for name, _ in baseline if name in kinds]

    def with_value(name, value):
        return [(k, value if k == name else v) for k, v in baseline]

    if whole_form:
        editable = {n for n in names if kinds[n] in ("text", "json", "number", "choice")}
        values = corpus.WHOLE_FORM_VALUES
        for value in attack.rotation.take("whole", values, PER_URL["whole form"]):
            body = [(k, value if k in editable else v) for k, v in baseline]
            attack.post("form bodies: whole form", url, body, tables=tables)
        return
    for name in names:
        kind = kinds[name]
        if kind == "management":
            suffix = name.rsplit("-", 1)[1]
            tampering = [v for s, v in corpus.MANAGEMENT_TAMPERING if s == suffix]
            for value in attack.rotation.take(suffix, tampering, 1):
                attack.post("form bodies: formsets", url, with_value(name, value), tables=tables)
            continue
        share = PER_URL["inline" if "-0-" in name else kind if kind in PER_URL else "typed"]
        values = attack.rotation.take(kind, corpus.FORM_VALUES[kind], share)
        if kind == "json":
            values = [corpus.deep_json(100_000), *values]
        category = "form bodies: json" if kind == "json" else f"form bodies: {kind}"
        if kind in ("number", "decimal", "fk", "choice", "date", "bool"):
            category = "form bodies: typed fields"
        for value in values:
            _response, outcome = attack.post(category, url, with_value(name, value), tables=tables)
            if outcome == ACCEPTED and value == XSS:
                check_escaped(attack, model_admin, url)
    # The same valid form with a hostile request id: an audited save that must succeed.
    for headers in (corpus.HEADERS[0], corpus.HEADERS[2], corpus.HEADERS[5]):
        attack.post("headers", url, baseline, tables=(), headers=headers)
    # No CSRF token, or a forged one: refused before any write.
    attack.post("form bodies: csrf", url, baseline, tables=tables, csrf=False)
    attack.post("form bodies: csrf", url, baseline, tables=tables, csrf="' OR 1=1")


# --- the test ------------------------------------------------------------------------------


def test_hostile_corpus_against_every_admin_url(django_user_model, rf, schema_as_found):
    user = build_world(django_user_model)
    request = rf.get("/admin/")
    request.user = user
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]
    from apps.dbhealth.models import DataQualityCheck, Finding
    from apps.tasks.models import Task

    task = Task.objects.order_by("pk").first()
    extra = {
        "own_pid": own_pid,
        "check_pk": first_pk(DataQualityCheck),
        "finding_pk": first_pk(Finding),
        "content_type_id": ContentType.objects.get_for_model(Task).pk,
    }
    assert task and extra["check_pk"] and extra["finding_pk"]
    attack = Attack(user)
    unknown: list[str] = []
    missing_objects: list[str] = []
    try:
        for route in admin_routes():
            model_admin = model_admin_for_route(route.route)
            if route.regex:
                run_regex_route(attack, route)
                continue
            sets = route_values(route, model_admin, user, extra)
            if sets is None:
                unknown.append(route.route)
                continue
            if "object_id" in route.params and model_admin and first_pk(model_admin.model) is None:
                missing_objects.append(route.route)
            for values in sets:
                url = fill_route(route.route, values)
                run_get_attacks(attack, route, url, model_admin)
            if "object_id" in route.params:
                for hostile in attack.rotation.take("ids", HOSTILE_IDS, PER_URL["path ids"]):
                    url = fill_route(route.route, {**sets[0], "object_id": hostile})
                    attack.get("path ids", url)
            if route.route.startswith(DBHEALTH_PREFIX):
                run_dbhealth_posts(attack, route, sets)
            elif model_admin is not None and route.name:
                run_model_posts(attack, route, model_admin, request)
        run_endpoints(attack)
    finally:
        attack.close()

    report = attack.tally.table()
    print("\nHostile input: requests per category\n" + report)
    print("seconds per category", {k: round(v, 1) for k, v in attack.tally.seconds.items()})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "hostile-input.json").write_text(
        json.dumps(
            {
                "categories": attack.tally.as_dict(),
                "failures": attack.tally.failures,
                "routes_without_objects": missing_objects,
            },
            indent=2,
        )
    )
    assert not unknown, f"admin URLs with parameters this test cannot fill: {unknown}"
    # Only the Database section's table-less entry has no object to attack.
    assert all(r.startswith(DBHEALTH_PREFIX) for r in missing_objects), missing_objects
    assert sum(attack.tally.tried.values()) > 1500
    assert not attack.tally.failures, (
        f"{len(attack.tally.failures)} hostile requests failed:\n"
        + "\n".join(attack.tally.failures[:60])
        + "\n\nexceptions:\n"
        + "\n".join(attack.tally.exceptions[:40])
    )


def run_regex_route(attack: Attack, route):
    if "app_label" in route.params:
        for model in {m._meta.app_label for m in admin.site._registry}:
            attack.get("path ids", f"/admin/{model}/")
        for hostile in ("nosuchapp", "' OR 1=1", "²"):
            attack.get("path ids", f"/admin/{hostile}/")
    else:  # the catch-all
        for hostile in ("nosuch/' OR 1=1/", "tasks/task/²/²/", "%00/"):
            attack.get("path ids", f"/admin/{hostile}")


def run_get_attacks(attack: Attack, route, url: str, model_admin):
    name = route.name or ""
    if name.endswith("_changelist") and model_admin is not None:
        core, rest = changelist_attacks(model_admin)
        for category, params in core + attack.rotation.take(url, rest, PER_URL["changelist"]):
            attack.get(category, url, params)
    elif route.route.startswith(DBHEALTH_PREFIX) and route.params == ():
        for params in corpus.DBHEALTH_QUERIES:
            attack.get("database pages", url, params)
    else:
        cheap = name.endswith(("_delete", "_history")) or not name
        share = PER_URL["cheap page queries" if cheap else "page queries"]
        for category, params in attack.rotation.take("pages", corpus.GENERIC_QUERIES, share):
            attack.get(category, url, params)
    if name in ("index", "tasks_task_changelist", "dbhealth_overview"):
        for headers in corpus.HEADERS:
            attack.get("headers", url, headers=headers)


def changelist_attacks(model_admin):
    from django.db import models

    opts = model_admin.model._meta
    text = next(
        (
            f.name
            for f in opts.concrete_fields
            if isinstance(f, models.CharField | models.TextField)
        ),
        None,
    )
    date = next((f.name for f in opts.concrete_fields if isinstance(f, models.DateTimeField)), None)
    return corpus.changelist_lookups(text, opts.pk.name, date)


def run_model_posts(attack: Attack, route, model_admin, request):
    model = model_admin.model
    pk = first_pk(model)
    tables = [quoted_table(model), *AUDIT_TABLES]
    info = f"{model._meta.app_label}_{model._meta.model_name}"
    name = route.name or ""
    if name == f"{info}_change" and pk is not None:
        obj = model._default_manager.get(pk=pk)
        if model_admin.has_change_permission(request, obj):
            attack_forms(attack, model_admin, request, obj, route_url(route, pk), whole_form=False)
        else:
            attack.post("form bodies: read-only", route_url(route, pk), {"x": "1"}, tables=tables)
    elif name == f"{info}_add":
        if model_admin.has_add_permission(request):
            attack_forms(
                attack, model_admin, request, None, route_url(route, None), whole_form=True
            )
        else:
            attack.post("form bodies: read-only", route_url(route, None), {"x": "1"}, tables=tables)
    elif name == f"{info}_delete" and pk is not None:
        url = route_url(route, pk)
        attack.post("actions", url, {"post": "yes", "_to_field": "password"}, tables=tables)
        attack.post("form bodies: csrf", url, {"post": "yes"}, tables=tables, csrf=False)
    elif name == f"{info}_changelist":
        url = route_url(route, None)
        bodies = [
            *(
                {"action": "delete_selected", "_selected_action": selected, "index": "0"}
                for selected in ("' OR 1=1", "²", "9" * 40, corpus.LONE_SURROGATE, "\x00")
            ),
            {"action": "nosuch_action", "_selected_action": str(pk), "index": "0"},
            {"action": "delete_selected", "select_across": "²", "index": "abc"},
            {"action": "\x00", "index": "0"},
        ]
        for body in attack.rotation.take("actions", bodies, PER_URL["actions"]):
            attack.post("actions", url, body, tables=tables, unchanged=True)
    elif name == "auth_user_password_change":
        url = fill_route(route.route, {"id": str(first_pk(model))})  # the victim, not us
        for value in corpus.FORM_VALUES["text"][:5]:
            body = {"password1": value, "password2": value, "usable_password": "true"}
            attack.post("form bodies: text", url, body, tables=["auth_user"])


def route_url(route, pk) -> str:
    return fill_route(route.route, {"object_id": quote(str(pk))} if pk is not None else {})


def run_dbhealth_posts(attack: Attack, route, sets):
    from apps.dbhealth.models import DataQualityResult, Finding

    tables = [
        quoted_table(Finding),
        quoted_table(DataQualityResult),
        "audit_auditevent",
    ]
    name = route.name or ""
    if name == "dbhealth_activity_signal":
        for values in sets:
            url = fill_route(route.route, values)
            # Our own backend (refused) and backends that do not exist.
            attack.post("database actions", url, {}, tables=tables, unchanged=True)
            for pid in ("1", "2147483647", "9" * 18):
                url = fill_route(route.route, {**values, "pid": pid})
                attack.post("database actions", url, {}, tables=tables, unchanged=True)
    elif name == "dbhealth_matview_refresh":
        url = fill_route(route.route, {})
        for value in ["' OR 1=1", "\x00", corpus.TEN_KB, corpus.LONE_SURROGATE, "pg_authid"]:
            attack.post("database actions", url, {"name": value}, tables=tables, unchanged=True)
    elif name == "dbhealth_quality_run":
        url = fill_route(route.route, {})
        for value in ["' OR 1=1", "\x00", corpus.TEN_KB, corpus.LONE_SURROGATE, "²"]:
            attack.post("database actions", url, {"name": value}, tables=tables, unchanged=True)
    elif name == "dbhealth_finding_action":
        for values in sets:
            url = fill_route(route.route, values)
            bodies = [
                {"days": "²"},
                {"days": "9" * 40},
                {"days": "-5"},
                {"note": "\x00"},
                {"note": corpus.LONE_SURROGATE},
            ]
            for body in bodies:
                attack.post("database actions", url, body, tables=())
        attack.post("form bodies: csrf", url, {"days": "1"}, tables=tables, csrf=False)
    elif name == "dbhealth_finding_accept":
        url = fill_route(route.route, sets[0])
        attack.post("form bodies: csrf", url, {"reason": "x"}, tables=tables, csrf=False)
        # Refused with a message: no reason, NUL, longer than the limit.
        for body in ({}, {"reason": "  "}, {"reason": "\x00"}, {"reason": corpus.TEN_KB}):
            attack.post("database actions", url, body, tables=tables, unchanged=True)
        # Decoded as U+FFFD, SQL-looking text: a reason like any other (then: already accepted).
        for value in (corpus.LONE_SURROGATE, "' OR 1=1", corpus.BAD_UTF8):
            attack.post("database actions", url, {"reason": value}, tables=())


def run_endpoints(attack: Attack):
    for path in ("/healthz", "/readyz", "/metrics"):
        normal = attack.client.get(path).status_code
        for params in ({"format": "' OR 1=1"}, {"q": corpus.LONE_SURROGATE}, {"x": corpus.TEN_KB}):
            attack.get("endpoints", path, params, normal_status=normal)
        for headers in corpus.HEADERS:
            attack.get("endpoints", path, headers=headers, normal_status=normal)
