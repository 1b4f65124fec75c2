from django.conf import settings
from django.db import models

from apps.audit.triggers import audit_triggers
from apps.core.fields import JSONField


class DatabaseHealth(models.Model):
    """No table: carries the Database section's permissions and its admin entry."""

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "database health"
        verbose_name_plural = "database health"
        permissions = [
            ("cancel_backend", "Can cancel a database backend's query"),
            ("terminate_backend", "Can terminate a database backend"),
            ("refresh_matview", "Can enqueue a materialized view refresh"),
            ("manage_finding", "Can resolve and snooze database findings"),
            ("run_quality_checks", "Can run data-quality checks on demand"),
            ("view_failing_rows", "Can see the failing-row samples of data-quality checks"),
            ("accept_finding", "Can accept a database finding with a reason"),
        ]

    def __str__(self) -> str:
        return "database health"


class IndexUsageSnapshot(models.Model):
    """Hourly copy of cumulative index counters, so usage survives statistics resets."""

    taken_at = models.DateTimeField(db_index=True)
    schema_name = models.CharField(max_length=63)
    table_name = models.CharField(max_length=63)
    index_name = models.CharField(max_length=63)
    idx_scan = models.BigIntegerField()
    idx_tup_read = models.BigIntegerField()
    size_bytes = models.BigIntegerField()
    stats_reset = models.DateTimeField(null=True, blank=True)
    # Scans since the previous snapshot of the same index; after a reset it is the new counter.
    delta_scans = models.BigIntegerField(default=0)
    reset_detected = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["schema_name", "index_name", "-taken_at"], name="dbh_snapshot_index_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schema_name}.{self.index_name} @ {self.taken_at:%Y-%m-%d %H:%M}"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {Severity.CRITICAL: 3, Severity.WARNING: 2, Severity.INFO: 1}


class CheckKind(models.TextChoices):
    MISSING = "missing", "Missing values"
    DUPLICATE = "duplicate", "Duplicates"
    VALIDITY = "validity", "Validity (regex, range, allowed values)"
    FRESHNESS = "freshness", "Freshness"
    REFERENTIAL = "referential", "Referential (orphans)"
    ROW_COUNT = "row_count", "Row count (min/max)"
    SCHEMA = "schema", "Schema (expected columns and types)"
    CUSTOM_SQL = "custom_sql", "Custom SQL returning failing rows"


class DataQualityCheck(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=CheckKind)
    description = models.TextField(blank=True, default="")
    target_table = models.CharField(
        max_length=200, blank=True, default="", help_text="schema.table (schema defaults to public)"
    )
    target_column = models.CharField(max_length=63, blank=True, default="")
    params = JSONField(
        default=dict,
        blank=True,
        help_text=(
            "missing: {}; duplicate: {columns: [...], ignore_case}; validity: {regex | min | max | allowed}; "
            "freshness: {max_age_seconds}; referential: {ref_table, ref_column}; row_count: {min, max}; "
            "schema: {columns: {name: type}}; custom_sql: {sql}"
        ),
    )
    threshold = models.BigIntegerField(
        default=0, help_text="Largest number of failing rows that still passes."
    )
    severity = models.CharField(max_length=10, choices=Severity, default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("author_custom_sql", "Can write or change the SQL of custom-SQL checks"),
        ]
        # Every change of a definition (who, old, new) lands in the audit log.
        triggers = audit_triggers()
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=CheckKind.values), name="dbh_check_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values), name="dbh_check_severity_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(threshold__gte=0), name="dbh_check_threshold_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DataQualityResult(models.Model):
    check_ref = models.ForeignKey(
        DataQualityCheck,
        on_delete=models.CASCADE,
        related_name="results",
        db_column="check_id",
        db_index=False,  # dbh_result_check_ran_idx leads with it
    )
    ran_at = models.DateTimeField()
    failed_count = models.BigIntegerField(default=0)
    total = models.BigIntegerField(null=True, blank=True)
    passed = models.BooleanField()
    duration_ms = models.PositiveIntegerField(default=0)
    failing_rows = JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-ran_at"]
        indexes = [models.Index(fields=["check_ref", "-ran_at"], name="dbh_result_check_ran_idx")]

    def __str__(self) -> str:
        return f"{self.check_ref_id} @ {self.ran_at:%Y-%m-%d %H:%M}"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    SNOOZED = "snoozed", "Snoozed"
    # A known condition, kept with a reason until its evidence changes materially.
    ACCEPTED = "accepted", "Accepted"


class Finding(models.Model):
    key = models.CharField(max_length=300, unique=True)
    kind = models.CharField(max_length=50, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity)
    object_name = models.CharField(max_length=300)
    title = models.CharField(max_length=500)
    evidence = JSONField(default=dict, blank=True)
    suggested_fix = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=FindingStatus, default=FindingStatus.OPEN)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    reopened_count = models.PositiveIntegerField(default=0)
    accepted_reason = models.TextField(blank=True, default="")
    accepted_at = models.DateTimeField(null=True, blank=True)
    # The evidence when it was accepted: the finding reopens when it grows materially.
    accepted_evidence = JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["status", "-last_seen"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=FindingStatus.values), name="dbh_finding_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values), name="dbh_finding_severity_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "severity"], name="dbh_finding_status_sev_idx")]

    def __str__(self) -> str:
        return self.title


class MatviewObservation(models.Model):
    """What the catalog last showed of a materialized view: a REFRESH outside Flowbase (psql)
    leaves no log row, but changes the view's file (plain) or its row counters (CONCURRENTLY)."""

    view_name = models.CharField(max_length=200, unique=True)  # schema.name
    fingerprint = models.CharField(max_length=100)
    observed_at = models.DateTimeField()
    # When the fingerprint was last seen to change (None: never, since first observed).
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.view_name} @ {self.observed_at:%Y-%m-%d %H:%M}"


class OverviewSnapshot(models.Model):
    """The overview's figures every 15 minutes (beat), for its 24 h / 7 d trend charts."""

    taken_at = models.DateTimeField(db_index=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    heap_hit_ratio = models.FloatField(null=True, blank=True)
    index_hit_ratio = models.FloatField(null=True, blank=True)
    # Backends on this database (the overview's "connections by state") and the server's limit.
    connections = models.IntegerField(null=True, blank=True)
    max_connections = models.IntegerField(null=True, blank=True)
    # Client backends of the whole server / (max_connections - superuser_reserved_connections).
    connection_utilisation = models.FloatField(null=True, blank=True)
    # Redis INFO counters (cumulative since the server started; None: Redis unavailable).
    redis_hits = models.BigIntegerField(null=True, blank=True)
    redis_misses = models.BigIntegerField(null=True, blank=True)
    request_queries_p50 = models.FloatField(null=True, blank=True)
    request_queries_p95 = models.FloatField(null=True, blank=True)
    request_samples = models.IntegerField(default=0)

    class Meta:
        ordering = ["-taken_at"]
        get_latest_by = "taken_at"

    def __str__(self) -> str:
        return f"overview @ {self.taken_at:%Y-%m-%d %H:%M}"
