"""Personal-data erasure: find every place a person appears and pseudonymise it, in one
transaction on the owner connection (docs/privacy.md).

* Every table, partition, archived table and materialized view of `public`/`archive` is read
  from the catalog; each text, varchar, JSON and array column is searched with one pattern (the
  database's `flowbase_privacy_pattern`: the identifiers as whole words, case-insensitive).
* Matches are replaced by the person's stable pseudonym `erased-<hex>`; inside JSON every string
  and key is rewritten, and under declared personal keys the account id is cut.
* References to the account: nullable FKs are set to NULL, link rows (groups, permissions) are
  deleted, non-nullable FKs keep pointing at the account, which itself is pseudonymised.
* The audit log is append-only: its rows are changed only through `flowbase_audit_redact`,
  which rewrites nothing but the personal values of the given rows and audits each call; then a
  tombstone `erasure` row records when, by whom, which person-key hash and the counts.
* After the changes the same search runs again; anything left fails the erasure (rolled back).

The dry run runs the same search in a read-only transaction and rolls it back.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import asdict, dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connections, transaction

from apps.audit.models import AuditEvent
from apps.audit.services import audit_action_record
from apps.core.roles.config import owner_alias

from . import catalog, conf
from .identity import ErasureError, Person
from .registry import Registry, build_registry

logger = logging.getLogger(__name__)

AUDIT_TABLE = AuditEvent._meta.db_table
AUDIT_REDACTABLE = ("changes", "actor_id")
AUDIT_KEY_BATCH = 5000
REDACT_JSON = "public.flowbase_privacy_redact_jsonb"


@dataclass
class PlaceResult:
    relation: str  # schema.name of the leaf relation
    table: str  # the model table it belongs to
    column: str
    kind: str  # identifier | text | json | array | reference | audit | account | session
    action: str  # pseudonymise | set null | keep | delete | redact | refresh | refuse
    rows: int


@dataclass
class ErasureReport:
    person: dict
    applied: bool
    relations_searched: int = 0
    columns_searched: int = 0
    places: list[PlaceResult] = field(default_factory=list)
    rows_changed: int = 0
    audit_rows_redacted: int = 0
    skipped_tables: dict[str, str] = field(default_factory=dict)
    matviews_refreshed: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    tombstone: dict | None = None
    verified: bool = False

    def by_table(self) -> list[dict]:
        """Counts per table/column/kind/action, partitions added up under their table."""
        totals: dict[tuple, int] = {}
        for p in self.places:
            key = (p.table, p.column, p.kind, p.action)
            totals[key] = totals.get(key, 0) + p.rows
        return [
            {"table": t, "column": c, "kind": k, "action": a, "rows": n}
            for (t, c, k, a), n in sorted(totals.items())
            if n
        ]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["places"] = [asdict(p) for p in self.places if p.rows]
        data["by_table"] = self.by_table()
        return data


# --- one searched place ------------------------------------------------------------------------


@dataclass
class Place:
    column: str
    kind: str
    action: str
    match: str  # SQL condition over the relation's row (no alias)
    rewrite: str | None = None  # SQL expression of the new value, over alias `t`; None: no change

    @property
    def changes(self) -> bool:
        return self.action in ("pseudonymise", "set null")


def _json_match(qc: str, param: str, *, with_ids: bool) -> str:
    prefilter = f"{qc}::text ~* %(loose)s"
    if with_ids:
        prefilter = f"({prefilter} OR {qc}::text ~ %(uid_re)s)"
    return (
        f"({prefilter} AND {REDACT_JSON}({qc}::jsonb, %(strict)s, %(ps)s, %({param})s::text[],"
        f" %(uid)s::bigint) IS DISTINCT FROM {qc}::jsonb)"
    )


def _json_rewrite(qc: str, param: str, sql_type: str) -> str:
    expr = f"{REDACT_JSON}(t.{qc}::jsonb, %(strict)s, %(ps)s, %({param})s::text[], %(uid)s::bigint)"
    return expr + ("::json" if sql_type == "json" else "")


class Planner:
    """Builds the places (columns and how each is matched and rewritten) of every relation."""

    def __init__(self, person: Person, registry: Registry, qn):
        self.person = person
        self.registry = registry
        self.qn = qn
        self.params: dict = {}

    def places(self, relation: catalog.Relation) -> list[Place]:
        qn = self.qn
        table = relation.table
        audit = table == AUDIT_TABLE
        identifiers = self.registry.identifier_columns.get(table, set())
        found: list[Place] = []
        for n, column in enumerate(relation.columns):
            qc = qn(column.name)
            kind = "identifier" if column.name in identifiers else column.kind
            if audit:
                action = "redact" if column.name in AUDIT_REDACTABLE else "refuse"
                kind = "audit"
            elif relation.kind == "m":
                action = "refresh"
            else:
                action = "pseudonymise"
            if column.kind == "text":
                match = f"{qc} ~* %(strict)s"
                rewrite = f"regexp_replace(t.{qc}, %(strict)s, %(ps)s, 'gi')"
            elif column.kind == "array":
                match = f"EXISTS (SELECT 1 FROM unnest({qc}) AS e(v) WHERE e.v ~* %(strict)s)"
                rewrite = (
                    f"ARRAY(SELECT regexp_replace(e.v, %(strict)s, %(ps)s, 'gi')"
                    f" FROM unnest(t.{qc}) WITH ORDINALITY AS e(v, o) ORDER BY e.o)"
                )
            else:
                keys = (
                    self.registry.audit_id_keys()
                    if audit
                    else self.registry.id_keys(table, column.name)
                )
                param = f"keys_{relation.name}_{n}"
                self.params[param] = keys
                with_ids = bool(keys) and self.person.user_id is not None
                match = _json_match(qc, param, with_ids=with_ids)
                rewrite = _json_rewrite(qc, param, column.sql_type)
            found.append(Place(column.name, kind, action, match, rewrite))
        if self.person.user_id is not None and not audit:
            for ref in self.registry.references_of(table):
                if ref.column not in relation.all_columns or relation.kind == "m":
                    continue
                match = f"{qn(ref.column)} = %(uid)s"
                rewrite = "NULL" if ref.action == "set null" else None
                found.append(Place(ref.column, "reference", ref.action, match, rewrite))
        if self.person.user_id is not None and audit and "actor_id" in relation.all_columns:
            found.append(Place("actor_id", "audit", "redact", "actor_id = %(uid)s"))
        return found


# --- the search (dry run and verification) -------------------------------------------------------


def _count(cursor, relation, places: list[Place], params: dict, qn) -> list[int]:
    where = " OR ".join(f"({p.match})" for p in places)
    counts = ", ".join(f"count(*) FILTER (WHERE {p.match})" for p in places)
    cursor.execute(f"SELECT {counts} FROM {relation.quoted(qn)} WHERE {where}", params)
    return list(cursor.fetchone())


def _search(cursor, relations, planner: Planner, params: dict, qn) -> list[PlaceResult]:
    results = []
    for relation in relations:
        places = planner.places(relation)
        if not places:
            continue
        for place, rows in zip(places, _count(cursor, relation, places, params, qn), strict=True):
            results.append(
                PlaceResult(
                    relation.qualified, relation.table, place.column, place.kind, place.action, rows
                )
            )
    return results


# --- the changes --------------------------------------------------------------------------------


def _id_ranges(cursor, relation, qn) -> list[tuple[int, int] | None]:
    """[None] (one statement) or id ranges of PRIVACY_BATCH_ROWS for a big relation."""
    size = conf.batch_rows()
    if relation.rows_estimate <= size or not relation.id_indexed:
        return [None]
    cursor.execute(f"SELECT min(id), max(id) FROM {relation.quoted(qn)}")
    low, high = cursor.fetchone()
    if low is None:
        return []
    return [(start, start + size) for start in range(low, high + 1, size)]


def _rewrite_relation(
    cursor, relation, places: list[Place], params: dict, qn
) -> tuple[list[int], int]:
    """UPDATE (or DELETE link rows of) one leaf relation; (rows changed per place, rows)."""
    counts = [0] * len(places)
    rows = 0
    target = relation.quoted(qn)
    for i, place in enumerate(places):
        if place.action == "delete":
            cursor.execute(f"DELETE FROM {target} WHERE {place.match}", params)
            counts[i] = cursor.rowcount
            rows += cursor.rowcount
    changing = [(i, p) for i, p in enumerate(places) if p.changes]
    if not changing:
        return counts, rows
    flags = ", ".join(f"({p.match}) AS h{i}" for i, p in changing)
    sets = ", ".join(
        f"{qn(p.column)} = CASE WHEN hit.h{i} THEN {p.rewrite} ELSE t.{qn(p.column)} END"
        for i, p in changing
    )
    where = " OR ".join(f"({p.match})" for _, p in changing)
    returning = ", ".join(f"hit.h{i}" for i, _ in changing)
    totals = ", ".join(f"count(*) FILTER (WHERE h{i})" for i, _ in changing) + ", count(*)"
    for bounds in _id_ranges(cursor, relation, qn):
        window, batch = "", dict(params)
        if bounds is not None:
            window = " AND id >= %(lo)s AND id < %(hi)s"
            batch.update(lo=bounds[0], hi=bounds[1])
        cursor.execute(
            f"WITH hit AS (SELECT ctid AS row_ctid, {flags} FROM {target}"
            f" WHERE ({where}){window} FOR UPDATE),"
            f" upd AS (UPDATE {target} AS t SET {sets} FROM hit WHERE t.ctid = hit.row_ctid"
            f" RETURNING {returning})"
            f" SELECT {totals} FROM upd",
            batch,
        )
        *per_place, total = cursor.fetchone()
        for (i, _), n in zip(changing, per_place, strict=True):
            counts[i] += n
        rows += total
    return counts, rows


def _redact_audit(cursor, relation, places, params, person, registry, qn) -> tuple[list[int], int]:
    """Collect the matching (created_at, id) keys in key order, a batch at a time, and hand them
    to flowbase_audit_redact, the only writer of audit rows. Returns the matches per place and
    the rows the function changed."""
    counts = _count(cursor, relation, places, params, qn)
    refused = [
        f"{relation.qualified}.{p.column}"
        for p, n in zip(places, counts, strict=True)
        if n and p.action == "refuse"
    ]
    if refused:
        raise ErasureError(
            f"the person's identifiers are in audit columns that cannot be redacted: {refused}"
        )
    redactable = [p for p, n in zip(places, counts, strict=True) if p.action == "redact" and n]
    if not redactable:
        return counts, 0
    where = " OR ".join(f"({p.match})" for p in redactable)
    target = relation.quoted(qn)
    last, redacted = None, 0
    while True:
        after = " AND (created_at, id) > (%(after_at)s, %(after_id)s)" if last else ""
        batch = dict(params, after_at=last[0] if last else None, after_id=last[1] if last else None)
        cursor.execute(
            f"SELECT created_at, id FROM {target} WHERE ({where}){after}"
            f" ORDER BY created_at, id LIMIT {AUDIT_KEY_BATCH}",
            batch,
        )
        keys = cursor.fetchall()
        if not keys:
            break
        cursor.execute(
            "SELECT public.flowbase_audit_redact(%s::regclass, %s::timestamptz[], %s::bigint[],"
            " %s::text[], %s, %s, %s::text[])",
            [
                target,
                [k[0] for k in keys],
                [k[1] for k in keys],
                list(person.identifiers),
                person.pseudonym,
                person.user_id,
                registry.audit_id_keys(),
            ],
        )
        redacted += cursor.fetchone()[0]
        last = keys[-1]
    return counts, redacted


def _account_places(person: Person, using: str) -> list[PlaceResult]:
    """The account row itself and its sessions (--user only)."""
    if person.user_id is None:
        return []
    user_model = get_user_model()
    table = user_model._meta.db_table
    results = [PlaceResult(f"public.{table}", table, "*", "account", "pseudonymise", 1)]
    sessions = _user_sessions(person.user_id, using)
    if sessions is not None:
        results.append(
            PlaceResult(
                "public.django_session", "django_session", "*", "session", "delete", len(sessions)
            )
        )
    return results


def _user_sessions(user_id: int, using: str) -> list[str] | None:
    from django.apps import apps as django_apps

    if not django_apps.is_installed("django.contrib.sessions"):
        return None
    from django.contrib.sessions.models import Session

    keys = []
    for session in Session.objects.using(using).iterator(chunk_size=2000):
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id):
            keys.append(session.session_key)
    return keys


def _erase_account(person: Person, using: str) -> int:
    user_model = get_user_model()
    fields = {user_model.USERNAME_FIELD: person.pseudonym, "password": make_password(None)}
    for name, value in (
        ("email", ""),
        ("first_name", ""),
        ("last_name", ""),
        ("is_active", False),
        ("is_staff", False),
        ("is_superuser", False),
    ):
        if any(f.name == name for f in user_model._meta.concrete_fields):
            fields[name] = value
    changed = user_model._default_manager.using(using).filter(pk=person.user_id).update(**fields)
    keys = _user_sessions(person.user_id, using) or []
    if keys:
        from django.contrib.sessions.models import Session

        Session.objects.using(using).filter(session_key__in=keys).delete()
    return changed + len(keys)


def _refresh(cursor, relation, qn) -> None:
    concurrently = "CONCURRENTLY " if relation.refresh_concurrently else ""
    cursor.execute(f"REFRESH MATERIALIZED VIEW {concurrently}{relation.quoted(qn)}")


# --- the service -----------------------------------------------------------------------------------


def _hints(cursor, person: Person) -> list[str]:
    if person.user_id is not None:
        return []
    user_model = get_user_model()
    table = user_model._meta.db_table
    cursor.execute(
        f"SELECT id FROM {table} WHERE {user_model.USERNAME_FIELD} ~* %(p)s"
        " OR coalesce(email, '') ~* %(p)s OR (first_name || ' ' || last_name) ~* %(p)s",
        {"p": _pattern(cursor, person, whole_words=True)},
    )
    return [
        f"user account {row[0]} matches these identifiers: `erase_person --user {row[0]}` "
        "pseudonymises the account too"
        for row in cursor.fetchall()
    ]


def _pattern(cursor, person: Person, *, whole_words: bool) -> str:
    cursor.execute(
        "SELECT public.flowbase_privacy_pattern(%s::text[], %s)",
        [list(person.identifiers), whole_words],
    )
    return cursor.fetchone()[0]


def person_erase(
    *,
    person: Person,
    apply: bool = False,
    requested_by: str = "",
    reason: str = "",
    actor_id: int | None = None,
    using: str | None = None,
) -> ErasureReport:
    """Dry run (default) or erasure of `person`; see the module docstring."""
    using = using or owner_alias()
    connection = connections[using]
    qn = connection.ops.quote_name
    registry = build_registry()
    user_table = get_user_model()._meta.db_table
    report = ErasureReport(person=person.describe(), applied=apply)
    requested_by = (requested_by or _os_user())[:150]
    outer = connection.in_atomic_block
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if not apply and not outer:
            cursor.execute("SET TRANSACTION READ ONLY")
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), set_config('flowbase.user_id', %s, true),"
            " set_config('flowbase.request_id', %s, true)",
            [
                conf.lock_timeout(),
                "" if actor_id is None else str(actor_id),
                f"erase_person:{person.pseudonym}",
            ],
        )
        strict = _pattern(cursor, person, whole_words=True)
        if _matches(cursor, strict, reason):
            raise ErasureError("--reason must not contain the person's identifiers")
        params = {
            "strict": strict,
            "loose": _pattern(cursor, person, whole_words=False),
            "ps": person.pseudonym,
            "uid": person.user_id,
            "uid_re": None if person.user_id is None else f"(?<![0-9.]){person.user_id}(?![0-9.])",
        }
        relations = catalog.relation_list(
            using=using, model_tables=registry.model_tables, skip=conf.skip_tables()
        )
        planner = Planner(person, registry, qn)
        report.columns_searched = sum(len(planner.places(r)) for r in relations)
        params.update(planner.params)
        report.relations_searched = len(relations)
        report.skipped_tables = {r.qualified: r.skipped for r in relations if r.skipped}
        active = [r for r in relations if not r.skipped]
        # Skipped tables are searched all the same: a match there is refused, not left behind.
        # The account and its sessions have their own step (--user); an account merely named
        # like an assignee is a hint, not a failure.
        special = {user_table, "django_session"}
        guarded = [r for r in relations if r.skipped and r.table not in special]
        if person.user_id is not None:
            verified_too = guarded + [r for r in relations if r.table in special]
        else:
            verified_too = guarded
        report.hints = _hints(cursor, person)
        if not apply:
            report.places = _search(cursor, active, planner, params, qn)
            report.places += _account_places(person, using)
            report.places += _refused(_search(cursor, guarded, planner, params, qn))
            transaction.set_rollback(True, using=using)
            return report
        report.places = _apply(cursor, report, person, registry, active, planner, params, qn, using)
        leftover = [
            p
            for p in _search(cursor, active + verified_too, planner, params, qn)
            if p.rows and p.action != "keep"
        ]
        if leftover:
            raise ErasureError(
                "erasure incomplete, rolled back: identifiers still in "
                + ", ".join(f"{p.relation}.{p.column} ({p.rows})" for p in leftover[:20])
            )
        report.verified = True
        report.rows_changed += report.audit_rows_redacted
        report.tombstone = _tombstone(report, requested_by, reason, actor_id, using)
    return report


def _refused(results: list[PlaceResult]) -> list[PlaceResult]:
    return [
        PlaceResult(p.relation, p.table, p.column, p.kind, "refuse", p.rows)
        for p in results
        if p.rows
    ]


def _apply(cursor, report, person, registry, relations, planner, params, qn, using):
    results: list[PlaceResult] = []
    if person.user_id is not None:
        results += _account_places(person, using)
        report.rows_changed += _erase_account(person, using)
    audit, views, tables = [], [], []
    for relation in relations:
        if relation.table == AUDIT_TABLE:
            audit.append(relation)
        elif relation.kind == "m":
            views.append(relation)
        else:
            tables.append(relation)
    for relation in tables:
        places = planner.places(relation)
        if places:
            counts, rows = _rewrite_relation(cursor, relation, places, params, qn)
            results += _results(relation, places, counts)
            report.rows_changed += rows
    # After the tables: their capture triggers have just logged the old values, which are
    # redacted here with everything else.
    for relation in audit:
        places = planner.places(relation)
        if places:
            counts, redacted = _redact_audit(cursor, relation, places, params, person, registry, qn)
            results += _results(relation, places, counts)
            report.audit_rows_redacted += redacted
    for relation in views:
        places = planner.places(relation)
        if places and any(_count(cursor, relation, places, params, qn)):
            _refresh(cursor, relation, qn)
            report.matviews_refreshed.append(relation.qualified)
    return results


def _results(relation, places: list[Place], counts: list[int]) -> list[PlaceResult]:
    return [
        PlaceResult(relation.qualified, relation.table, p.column, p.kind, p.action, n)
        for p, n in zip(places, counts, strict=True)
    ]


def _matches(cursor, pattern: str, text: str) -> bool:
    if not text:
        return False
    cursor.execute("SELECT %s ~* %s", [text, pattern])
    return bool(cursor.fetchone()[0])


def _tombstone(report: ErasureReport, requested_by: str, reason: str, actor_id, using) -> dict:
    counts = {f"{row['table']}.{row['column']}": row["rows"] for row in report.by_table()}
    details = {
        **{k: v for k, v in report.person.items() if k != "identifiers"},
        "requested_by": requested_by,
        "reason": reason[:500],
        "rows_changed": report.rows_changed,
        "audit_rows_redacted": report.audit_rows_redacted,
        "relations_searched": report.relations_searched,
        "columns_searched": report.columns_searched,
        "counts": counts,
    }
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT session_user")
        details["db_user"] = cursor.fetchone()[0]
    audit_action_record(
        action_name="erasure",
        target=get_user_model()._meta.db_table if report.person["kind"] == "user" else "person",
        target_pk=report.person["pseudonym"],
        details=details,
        actor_id=actor_id,
        request_id=f"erase_person:{report.person['pseudonym']}",
        using=using,
    )
    return details


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
