"""Settings shared by every environment; everything that differs comes from the environment.

Variables: DATABASE_URL (app role), MIGRATE_DATABASE_URL (owner role), MAINTENANCE_DATABASE_URL
(optional maintenance login acting as the owner), READONLY_DATABASE_URL, MONITOR_DATABASE_URL,
REPLICA_DATABASE_URL (optional streaming replica, app role), REDIS_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, DB_POOL (use psycopg's pool in
this process), DB_STATEMENT_TIMEOUT_MS, LOG_LEVEL,
METRICS_REQUIRE_AUTH, METRICS_TOKEN, METRICS_ALLOWED_IPS, FLOWBASE_JSON_MAX_DEPTH.
A database URL may name several hosts for a failover pair (docs/scaling.md):
postgres://user@host1:port1,host2:port2/flowbase?target_session_attrs=read-write.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()

# Defaults point at the project-local services `make run` starts (see .make/local.sh).
LOCAL_DATABASE_URL = "postgres://flowbase@127.0.0.1:54329/flowbase"  # the user is replaced per role
LOCAL_REDIS_URL = "redis://127.0.0.1:63799/0"

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django_prometheus",
    "apps.core.admin_config.FlowbaseAdminConfig",  # django.contrib.admin, hardened site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "psqlextra",
    "pgtrigger",
    "django_celery_beat",
    "csp",
    "apps.pg",
    "apps.core",
    "apps.projects",
    "apps.access",
    "apps.workflows",
    "apps.tasks",
    "apps.blueprints",
    "apps.knowledge",
    "apps.components",
    "apps.events",
    "apps.runs",
    "apps.audit",
    "apps.filestore",
    "apps.ops",
    "apps.dbhealth",
    "apps.privacy",
    "apps.embeddings",
    "apps.safe_migrations",
    "apps.demo",
    "apps.backups",
    "apps.origins",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files straight after the security headers (HSTS, nosniff apply to them too) and
    # before sessions/CSRF/auth, which a stylesheet does not need.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.access.middleware.RowScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.audit.middleware.AuditContextMiddleware",
    "apps.pg.middleware.PrimaryAfterWriteMiddleware",
    "apps.origins.middleware.QueryOriginMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "dataplatform.urls"
WSGI_APPLICATION = "dataplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ------------------------------------------------------------------------------
# One login per role (docs/security.md): the app (web, workers) never owns or alters the schema.
#   default  DATABASE_URL           app role: DML only
#   owner    MAINTENANCE_DATABASE_URL or MIGRATE_DATABASE_URL, acting as the owner role:
#            migrate and the maintenance jobs (partitions, REFRESH, ANALYZE, archive moves)
#   readonly READONLY_DATABASE_URL  data-quality checks: SELECT on the domain tables only
#   monitor  MONITOR_DATABASE_URL   DB-health catalog and statistics reads (pg_monitor)
FLOWBASE_DB_ROLES = {
    "OWNER": env("DB_OWNER_ROLE", default="flowbase_owner"),
    "APP": env("DB_APP_ROLE", default="flowbase_app"),
    "READONLY": env("DB_READONLY_ROLE", default="flowbase_readonly"),
    "MONITOR": env("DB_MONITOR_ROLE", default="flowbase_monitor"),
    # NOLOGIN; member of pg_signal_backend; owns only the audited signal function.
    "SIGNAL": env("DB_SIGNAL_ROLE", default="flowbase_signal"),
    # NOLOGIN, BYPASSRLS, the app's grants: the app switches to it (SET LOCAL ROLE) for a
    # transaction that may see every project (jobs, commands, operators); see docs/security.md.
    "ALL_PROJECTS": env("DB_ALL_PROJECTS_ROLE", default="flowbase_all_projects"),
}
# Row-level security (apps/access/policies.py): the app's connections tell PostgreSQL, per
# transaction, which projects' rows they may see (apps/pg/rowscope.py).
ROW_SCOPE = {
    # The replica is the app's login on the standby: the same policies, the same scope.
    "DATABASES": ["default", "replica"],
    "BYPASS_ROLE": FLOWBASE_DB_ROLES["ALL_PROJECTS"],
    "SETTING": "flowbase.project_ids",
    # Staff in these groups (and superusers) see every project.
    "UNSCOPED_GROUPS": ["Database operators"],
}
# Tables (fnmatch patterns) the read-only role must never read, whatever the grants say.
FLOWBASE_SENSITIVE_TABLES = [
    "auth_*",
    "django_session",
    "django_admin_log",
    "django_celery_beat_*",
    "django_celery_results_*",
    "audit_*",
    *env.list("DB_SENSITIVE_TABLES", default=[]),
]
# Apps whose tables are domain data the read-only role may read (plus the materialized views).
FLOWBASE_READONLY_APPS = env.list(
    "DB_READONLY_APPS",
    default=[
        "projects",
        "workflows",
        "tasks",
        "blueprints",
        "knowledge",
        "components",
        "events",
        "runs",
    ],
)


def _database(url: str, *, application_name: str, role: str | None = None) -> dict:
    db = env.db_url_config(url)
    db["ENGINE"] = "psqlextra.backend"
    db["CONN_MAX_AGE"] = 0
    db["CONN_HEALTH_CHECKS"] = True
    db.setdefault("OPTIONS", {})
    db["OPTIONS"]["application_name"] = application_name
    if "," in str(db.get("HOST") or ""):
        # A multi-host URL (an HA pair, target_session_attrs=read-write): libpq tries the hosts
        # in turn, each for at most this long, so a host that is down but silent does not hold
        # up reaching the primary.
        db["OPTIONS"].setdefault("connect_timeout", 3)
    # pgtrigger's per-row "is this trigger ignored?" check raises (and rolls back a
    # subtransaction) when `pgtrigger.ignore` was never set; defining it empty per session
    # makes every trigger cheaper.
    options = ["-c pgtrigger.ignore={}"]
    if role:
        # Whatever the login, objects it creates belong to the owner (and get its default
        # privileges): a partition made by the maintenance login is usable by the app at once.
        options.append(f"-c role={role}")
    if _statement_timeout_ms:
        options.append(f"-c statement_timeout={_statement_timeout_ms}")
    db["OPTIONS"]["options"] = " ".join(options)
    return db


def _local_url(role_key: str) -> str:
    return LOCAL_DATABASE_URL.replace("flowbase@", f"{FLOWBASE_DB_ROLES[role_key]}@", 1)


_statement_timeout_ms = env.int("DB_STATEMENT_TIMEOUT_MS", default=0)
_app_name = env("DB_APPLICATION_NAME", default="flowbase")
_db = _database(env("DATABASE_URL", default=_local_url("APP")), application_name=_app_name)
if env.bool("DB_POOL", default=False):
    # Web processes only: Celery closes the pool at every task boundary (celery#10554).
    _db["OPTIONS"]["pool"] = {"min_size": 2, "max_size": 10, "timeout": 10}
# PgBouncer in transaction mode in front of the app's login (DB_PGBOUNCER=1; `make run` /
# `make test-pgbouncer` with FLOWBASE_PGBOUNCER=1; docs/scaling.md). A server connection is ours
# for one transaction only, so nothing may live in the session:
DB_PGBOUNCER = env.bool("DB_PGBOUNCER", default=False)
if DB_PGBOUNCER:
    _db["PGBOUNCER"] = True  # apps.pg.sql.behind_pgbouncer(): no session state on this alias
    # .iterator() would DECLARE a server-side cursor, which lives in the session.
    _db["DISABLE_SERVER_SIDE_CURSORS"] = True
    # psycopg PREPAREs a statement run 5 times on a connection: a session object another
    # client's transaction would not find (PgBouncer 1.18 does not track them).
    _db["OPTIONS"]["prepare_threshold"] = None
    # PgBouncer cannot pass startup options per client; it sets pgtrigger.ignore itself
    # (connect_query), and DB_STATEMENT_TIMEOUT_MS belongs on the role (ALTER ROLE ... SET).
    _db["OPTIONS"].pop("options", None)
DATABASES = {
    "default": _db,
    "owner": _database(
        env("MAINTENANCE_DATABASE_URL", default="")
        or env("MIGRATE_DATABASE_URL", default=_local_url("OWNER")),
        application_name=f"{_app_name}-owner",
        role=FLOWBASE_DB_ROLES["OWNER"],
    ),
    "readonly": _database(
        env("READONLY_DATABASE_URL", default=_local_url("READONLY")),
        application_name=f"{_app_name}-readonly",
    ),
    "monitor": _database(
        env("MONITOR_DATABASE_URL", default=_local_url("MONITOR")),
        application_name=f"{_app_name}-monitor",
    ),
}
# A streaming replica (REPLICA_DATABASE_URL: the app's login on the standby; docs/scaling.md).
# apps.pg.routing sends there only the reads the code names (admin counts, the materialized
# views' lists), while the standby streams and its replay lag is under REPLICA_MAX_LAG_SECONDS.
REPLICA_DATABASE_URL = env("REPLICA_DATABASE_URL", default="")
REPLICA_ENABLED = bool(REPLICA_DATABASE_URL)
if REPLICA_ENABLED:
    DATABASES["replica"] = _database(REPLICA_DATABASE_URL, application_name=f"{_app_name}-replica")
    # A replica host that is down costs at most this long per REPLICA_RETRY_SECONDS, per process.
    DATABASES["replica"]["OPTIONS"]["connect_timeout"] = 2
DATABASE_ROUTERS = ["apps.pg.routing.ReplicaRouter"]
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=2.0)
REPLICA_RETRY_SECONDS = env.float("REPLICA_RETRY_SECONDS", default=10.0)
# Reads stay on the primary this long after a browser's write (read-your-writes).
REPLICA_PIN_SECONDS = env.float(
    "REPLICA_PIN_SECONDS", default=REPLICA_MAX_LAG_SECONDS + REPLICA_CHECK_SECONDS + 1
)
POSTGRES_EXTRA_DB_BACKEND_BASE = "django_prometheus.db.backends.postgresql"
# psqlextra would run CREATE EXTENSION hstore on migrate: extensions are created by the
# bootstrap step (`db_roles --apply`), as a superuser, never by the owner or the app.
POSTGRES_EXTRA_AUTO_EXTENSION_SET_UP = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PSQLEXTRA_PARTITIONING_MANAGER = "apps.pg.partitioning.manager.manager"
# The partition toolkit (apps/pg/partitioning) runs DDL as the owner and gives each new or
# detached partition the roles' grants; named here because the floor imports no Flowbase app.
PG_PARTITION_DDL_ALIAS = "apps.core.roles.config.owner_alias"
PG_PARTITION_GRANTS_SYNC = "apps.core.roles.services.relation_grants_sync"

# --- cache, Celery -------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default=LOCAL_REDIS_URL)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "flowbase",
        "TIMEOUT": 300,
        # Pages degrade when Redis is down (apps/ops/cache.py): answer within a second, no
        # retries (a miss costs one live query; the default would wait for ever on a dead host).
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": None},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
# The longest job's hard limit (archive, maintain); no task may set a longer one (tested).
CELERY_TASK_TIME_LIMIT = 30 * 60
# Redis hands a message that is still unacked after this long to another worker: a job whose
# worker was killed with -9 comes back this long after it started (docs/jobs.md). Longer than
# the longest job, or a job still running is delivered twice; not much longer, or a killed job
# waits hours (it was 2 h).
JOB_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 5 * 60
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": JOB_VISIBILITY_TIMEOUT,
    # A Redis that is down is refused fast on loopback, but an unreachable host would hang.
    "socket_connect_timeout": 3,
    # Sweep for expired unacked messages every 10 s (kombu scans only every 10th sweep by
    # default: a killed job could wait 100 s more than the visibility timeout).
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# Sends from web requests ("Refresh now") give up after this long instead of retrying.
JOB_INTERACTIVE_SEND_TIMEOUT = 2
CELERY_RESULT_EXPIRES = 24 * 60 * 60
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_MAX_TASKS_PER_CHILD = 200
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Jobs that need the owner's rights go to their own queue: only the maintenance worker holds
# MAINTENANCE_DATABASE_URL / MIGRATE_DATABASE_URL (docs/security.md). A worker started without
# -Q consumes both (what `make run` does locally).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = {"celery": {}, "maintenance": {}}
CELERY_TASK_ROUTES = {
    "apps.ops.tasks.refresh_matview_task": {"queue": "maintenance"},
    "apps.ops.tasks.archive_task": {"queue": "maintenance"},
    "apps.ops.tasks.maintain_task": {"queue": "maintenance"},
    "apps.ops.tasks.partitions_upkeep_task": {"queue": "maintenance"},
}

# --- auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Content-Security-Policy (django-csp) ---------------------------------------------------
# Scripts and stylesheets only from our own static files: no inline <script>, no inline event
# handlers, no <style> blocks. Style *attributes* stay allowed (the Database pages draw bars with
# style="width: …%"); they cannot run code, and img-src/font-src bound what they could load.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- /metrics and /readyz details ------------------------------------------------------------
# When METRICS_REQUIRE_AUTH is on (always in the prod settings), /metrics and the details of
# /readyz need `Authorization: Bearer <METRICS_TOKEN>` or a client address in
# METRICS_ALLOWED_IPS (comma-separated CIDRs). /healthz stays public. apps.core.endpoint_access.
METRICS_REQUIRE_AUTH = env.bool("METRICS_REQUIRE_AUTH", default=False)
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])

# --- Flowbase ------------------------------------------------------------------------------
FLOWBASE_LOCAL_DIR = BASE_DIR / ".local"
# JSON documents (forms, services, the importer's whole file) may not nest deeper than this
# (apps.core.validation; a tagged tasks file needs about 8).
FLOWBASE_JSON_MAX_DEPTH = env.int("FLOWBASE_JSON_MAX_DEPTH", default=64)
# Completed/cancelled workflows older than this move to the `archive` schema (apps/ops).
ARCHIVE_AFTER_DAYS = env.int("ARCHIVE_AFTER_DAYS", default=365)
# Services and the importer re-run a transaction refused with a serialization failure (40001)
# or a deadlock (40P01) at most this many times in all (apps.pg.retry).
DB_SERIALIZATION_RETRY_ATTEMPTS = env.int("DB_SERIALIZATION_RETRY_ATTEMPTS", default=5)
# --- privacy: erasure and retention (apps/privacy, docs/privacy.md) ----------------------------
# Pseudonyms are HMACs under this key (default: SECRET_KEY). Set it once and keep it: the same
# person then always gets the same `erased-<hex>`.
PRIVACY_PSEUDONYM_KEY = env("PRIVACY_PSEUDONYM_KEY", default="")
# JSON keys whose values identify a person, per model and JSON field: the erasure also cuts the
# person's account id found under them (names and e-mails are found in every JSON value anyway).
PRIVACY_PERSONAL_JSON_KEYS = {
    "events.Event": {"payload": ["user", "user_id", "actor", "author", "email", "assignee"]},
    "tasks.Task": {"legacy": ["assignee", "owner", "author", "reporter"]},
    "workflows.Workflow": {"legacy": ["owner", "author"]},
    "runs.WorkflowRun": {"trigger_data": ["user", "user_id", "actor", "email"]},
    "runs.FormResponse": {"data": ["name", "email", "user_id"], "metadata": ["user_id", "email"]},
}
# Days kept per table. Partitioned tables: archived (detached) partitions older than this are
# dropped (the partition policy detaches them first, never earlier); other tables: older rows
# are deleted. Run by the nightly maintenance's retention step.
PRIVACY_RETENTION_DAYS = {
    "events.Event": 730,
    "events.PerformanceMetric": 90,
    "runs.WorkflowRun": 730,
    "runs.NodeExecution": 730,
    "runs.FormResponse": 430,
    "audit.AuditEvent": 7 * 365,
    "admin.LogEntry": 365,
    "dbhealth.DataQualityResult": 90,
    "sessions.Session": 0,  # expired sessions (expire_date in the past)
}
PRIVACY_LOCK_TIMEOUT = env("PRIVACY_LOCK_TIMEOUT", default="5s")

# --- migrations (apps/safe_migrations, docs/migrations.md) ------------------------------------
# Every `migrate` session waits at most this long for a lock, then fails with a clear message
# instead of queueing every other query behind it.
MIGRATION_LOCK_TIMEOUT = env("MIGRATION_LOCK_TIMEOUT", default="5s")

# --- backups (apps/backups, docs/backups.md) ---------------------------------------------------
# Logical dumps, their manifests and the physical base backups live here (a volume in compose).
BACKUP_DIR = Path(env("BACKUP_DIR", default=str(FLOWBASE_LOCAL_DIR / "backups")))
# Backups older than this are deleted by the verification job (the newest verified one is kept).
BACKUP_RETENTION_DAYS = env.int("BACKUP_RETENTION_DAYS", default=30)
# A Database finding is raised when the last verified restore is older than this, or failed.
BACKUP_VERIFY_MAX_AGE_DAYS = env.int("BACKUP_VERIFY_MAX_AGE_DAYS", default=35)
# WAL segments archived by the local cluster's archive_command (.make/local.sh).
BACKUP_WAL_ARCHIVE_DIR = Path(
    env("BACKUP_WAL_ARCHIVE_DIR", default=str(FLOWBASE_LOCAL_DIR / "wal-archive"))
)
# --- query origins (apps/origins, docs/origins.md) --------------------------------------------
# Each statement carries a sqlcommenter comment naming its admin view, command or Celery task,
# so pg_stat_statements, pg_stat_activity and the server log show where it came from.
QUERY_ORIGIN_COMMENTS = env.bool("QUERY_ORIGIN_COMMENTS", default=True)
# One query shape sent this many times in one request is logged and counted as an N+1 pattern.
QUERY_REPEAT_THRESHOLD = env.int("QUERY_REPEAT_THRESHOLD", default=10)
