"""Per-table retention (PRIVACY_RETENTION_DAYS), enforced by the nightly maintenance's
`retention` step (apps/ops hands over to `retention_enforce`).

* Partitioned tables keep their detach-based retention (apps/pg/partitioning: old partitions
  are detached into the `archive` schema, never dropped). The privacy policy only ends that
  archive: an archived partition whose whole range is older than the policy is dropped (as the
  owner, under lock_timeout, after checking its newest row). So the policy of a partitioned
  table must be at least its partition policy's detach age (checked at start-up).
* Plain tables: rows older than the policy (by their date column) are deleted in batches, as
  the ops log retention does.
Tables the ops log retention already covers may not be listed twice (checked at start-up).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.apps import apps as django_apps
from django.db import DatabaseError, connections, models, transaction
from django.utils import timezone

from apps.core.roles.config import owner_alias
from apps.pg.locks import set_local_lock_timeout

from . import conf

DATE_FIELDS = ("expire_date", "action_time", "ran_at", "recorded_at", "submitted_at", "created_at")
_ARCHIVED_NAME = re.compile(r"^(?P<table>.+)_p(?P<stamp>\d{6}|\d{8})$")


@dataclass(frozen=True)
class Rule:
    label: str
    model: type[models.Model]
    days: int
    field: str  # the date column of a plain table, the partition key of a partitioned one
    partition_policy: object | None  # the psqlextra config of a partitioned model

    @property
    def table(self) -> str:
        return self.model._meta.db_table


class PolicyError(ValueError):
    pass


def _partition_policy(model):
    from apps.pg.partitioning import policy_list

    return next((c for c in policy_list() if c.model is model), None)


def _days_of(delta) -> int:
    """Days a relativedelta retention spans at most (a month counted as 31 days)."""
    return int(getattr(delta, "years", 0) * 366 + delta.months * 31 + delta.days)


def rules() -> list[Rule]:
    """The validated policy; raises PolicyError naming the entry at fault."""
    from apps.ops.services import RETENTION as OPS_RETENTION

    ops_labels = {label for label, *_ in OPS_RETENTION}
    found = []
    for label, value in sorted(conf.retention_days().items()):
        spec = value if isinstance(value, dict) else {"days": value}
        try:
            model = django_apps.get_model(label)
        except (LookupError, ValueError) as exc:
            raise PolicyError(f"PRIVACY_RETENTION_DAYS[{label!r}]: no such model") from exc
        try:
            days = int(spec["days"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PolicyError(
                f"PRIVACY_RETENTION_DAYS[{label!r}]: days must be an integer"
            ) from exc
        if days < 0:
            raise PolicyError(f"PRIVACY_RETENTION_DAYS[{label!r}]: days must be >= 0")
        if label in ops_labels:
            raise PolicyError(
                f"PRIVACY_RETENTION_DAYS[{label!r}]: already kept by the ops log retention "
                "(apps/ops/services/maintenance.py RETENTION and its OPS_*_RETENTION_DAYS setting)"
            )
        policy = None
        if hasattr(model, "_partitioning_meta"):
            policy = _partition_policy(model)
            detach = getattr(policy, "retention", None)
            if detach is None:
                raise PolicyError(
                    f"PRIVACY_RETENTION_DAYS[{label!r}]: a partitioned table needs a partition "
                    "policy with a retention (whole partitions are detached, never rows deleted)"
                )
            if days < _days_of(detach):
                raise PolicyError(
                    f"PRIVACY_RETENTION_DAYS[{label!r}]: {days} days is shorter than the "
                    f"partition policy's detach age ({_days_of(detach)} days): shorten that policy"
                )
            field = model._partitioning_meta.key[0]
        else:
            field = spec.get("field") or next(
                (
                    name
                    for name in DATE_FIELDS
                    if any(f.name == name for f in model._meta.concrete_fields)
                ),
                None,
            )
            if field is None:
                raise PolicyError(
                    f"PRIVACY_RETENTION_DAYS[{label!r}]: no date field; give {{'days': N, 'field': …}}"
                )
            if not isinstance(model._meta.get_field(field), models.DateTimeField):
                raise PolicyError(
                    f"PRIVACY_RETENTION_DAYS[{label!r}]: {field} is not a DateTimeField"
                )
            if not model._meta.managed:
                raise PolicyError(f"PRIVACY_RETENTION_DAYS[{label!r}]: not a managed table")
        found.append(Rule(label, model, days, field, policy))
    return found


# --- enforcement ----------------------------------------------------------------------------------

ARCHIVED_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'archive' AND c.relkind = 'r' AND c.relname LIKE %s ORDER BY c.relname
"""


def _archived_partitions(rule: Rule, using: str) -> list[tuple[str, datetime]]:
    """(name, end of range) of the archived partitions of a partitioned table, from their names
    (`<table>_pYYYYMM` / `_pYYYYMMDD`, as the partition job names them)."""
    with connections[using].cursor() as cursor:
        cursor.execute(ARCHIVED_SQL, [rule.table.replace("_", r"\_") + r"\_p%"])
        names = [row[0] for row in cursor.fetchall()]
    found = []
    for name in names:
        match = _ARCHIVED_NAME.match(name)
        if not match or match["table"] != rule.table:
            continue
        stamp = match["stamp"]
        if len(stamp) == 6:
            start = datetime(int(stamp[:4]), int(stamp[4:]), 1, tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
        else:
            start = datetime(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]), tzinfo=UTC)
            end = start + timedelta(days=1)
        found.append((name, end))
    return found


def _drop_archived(rule: Rule, name: str, cutoff: datetime, using: str) -> str:
    connection = connections[using]
    qn = connection.ops.quote_name
    with transaction.atomic(using=using), connection.cursor() as cursor:
        set_local_lock_timeout(conf.lock_timeout(), cursor=cursor)
        cursor.execute(f"SELECT max({qn(rule.field)}) FROM archive.{qn(name)}")
        newest = cursor.fetchone()[0]
        if newest is not None and newest >= cutoff:
            return f"kept: holds rows up to {newest.isoformat()}, newer than the cutoff"
        cursor.execute(f"DROP TABLE archive.{qn(name)}")
    return "dropped"


def _delete_rows(rule: Rule, cutoff: datetime, *, apply: bool) -> int:
    old = rule.model._default_manager.filter(**{f"{rule.field}__lt": cutoff})
    if not apply:
        return old.count()
    count, batch = 0, conf.retention_batch_size()
    while True:
        with transaction.atomic():
            ids = list(old.order_by().values_list("pk", flat=True)[:batch])
            if not ids:
                return count
            count += rule.model._default_manager.filter(pk__in=ids).delete()[0]


def retention_enforce(*, apply: bool, now: datetime | None = None) -> tuple[int, dict]:
    """Apply (or, dry run, report) the policy; (rows/partitions touched, details).

    Details carry "problems" (a partition that could not be dropped), which makes the
    maintenance step fail loudly, like the partition job's."""
    now = now or timezone.now()
    details: dict = {}
    touched = 0
    owner = None
    for rule in rules():
        cutoff = now - timedelta(days=rule.days)
        entry: dict = {"older_than_days": rule.days, "cutoff": cutoff.isoformat()}
        if rule.partition_policy is not None:
            owner = owner or owner_alias()
            old = [name for name, end in _archived_partitions(rule, owner) if end <= cutoff]
            if not apply:
                entry["would_drop"] = old
                touched += len(old)
            else:
                entry["dropped"] = []
                for name in old:
                    try:
                        outcome = _drop_archived(rule, name, cutoff, owner)
                    except DatabaseError as exc:
                        outcome = f"failed: {str(exc).strip().splitlines()[0]}"
                    if outcome == "dropped":
                        entry["dropped"].append(name)
                        touched += 1
                    else:
                        entry.setdefault("not_dropped", {})[name] = outcome
                        if outcome.startswith("failed"):
                            details.setdefault("problems", []).append(
                                {"table": f"archive.{name}", "reason": outcome}
                            )
        else:
            count = _delete_rows(rule, cutoff, apply=apply)
            entry["deleted" if apply else "would_delete"] = count
            touched += count
        details[rule.label] = entry
    return touched, details
