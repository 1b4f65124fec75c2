#!/usr/bin/env bash
# Project-local PostgreSQL and Redis for `make run` / `make test`.
#
#   local.sh up     install missing Debian packages, start (or reuse) the local services
#   local.sh down   stop them
#   local.sh env    print the export lines a shell needs to reach them
#   local.sh browser  install Debian's chromium + chromium-driver if missing (browser tests)
#   local.sh restart-pgbouncer  (FLOWBASE_PGBOUNCER=1) restart PgBouncer: fresh server connections
#   local.sh replica-up / replica-down  start or stop only the streaming standby
#   local.sh ha-up / ha-down  (FLOWBASE_HA=1) start or stop only the pg_auto_failover formation
#
# FLOWBASE_PGBOUNCER=1: also PgBouncer (Debian's pgbouncer) in transaction mode in front of the
# local cluster, on FLOWBASE_PGBOUNCER_PORT (default: the PostgreSQL port + 1000); `env` then
# points DATABASE_URL (the app's login) at it. The owner, read-only and monitor logins stay
# direct (docs/scaling.md says why).
#
# FLOWBASE_REPLICA=1: also a streaming standby of the local cluster in .local/replica
# (pg_basebackup -R through a replication login and slot), on FLOWBASE_REPLICA_PORT (default:
# the PostgreSQL port + 2000); `env` then prints REPLICA_DATABASE_URL (the app's login on it).
#
# FLOWBASE_HA=1: instead of the local cluster, a pg_auto_failover formation (Debian's
# postgresql-15-auto-failover) in .local/ha: a monitor on FLOWBASE_HA_PORT (default: the PostgreSQL
# port + 3000) and a primary and a synchronous standby on the next two ports; `env` then prints
# multi-host URLs with target_session_attrs=read-write, so every login reaches whichever node is
# the primary (docs/scaling.md).
#
# When DATABASE_URL (or REDIS_URL) is set, that service is taken as given and nothing local
# is started for it. PostgreSQL refuses to run as root, so the cluster runs as the `postgres`
# system user that Debian's package creates.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
PG_PORT="${FLOWBASE_PG_PORT:-54329}"
REDIS_PORT="${FLOWBASE_REDIS_PORT:-63799}"
PGDATA="$LOCAL/pgdata"
# WAL archive for point-in-time recovery (apps/backups; BACKUP_WAL_ARCHIVE_DIR in the settings).
WAL_ARCHIVE="$LOCAL/wal-archive"
PGRUN="$LOCAL/run"
LOGDIR="$LOCAL/log"
DB_NAME="flowbase"
# One login per role (docs/security.md); names as in dataplatform/settings/base.py.
APP_ROLE="${DB_APP_ROLE:-flowbase_app}"
OWNER_ROLE="${DB_OWNER_ROLE:-flowbase_owner}"
READONLY_ROLE="${DB_READONLY_ROLE:-flowbase_readonly}"
MONITOR_ROLE="${DB_MONITOR_ROLE:-flowbase_monitor}"
HA="${FLOWBASE_HA:-0}"
HA_PORT="${FLOWBASE_HA_PORT:-$((PG_PORT + 3000))}"
HA_DIR="$LOCAL/ha"
HA_NODES=(node1 node2)
ha_node_port() { [ "$1" = node1 ] && echo $((HA_PORT + 1)) || echo $((HA_PORT + 2)); }
ha_hosts() { echo "127.0.0.1:$(ha_node_port node1),127.0.0.1:$(ha_node_port node2)"; }
# Whichever node is the primary now: libpq tries the hosts in turn and keeps the writable one.
# The read-only and monitor logins default to read-only transactions (docs/security.md), which
# read-write would refuse on every host: they ask for the node not in recovery instead.
ha_url() {
  local attrs=read-write
  case "$1" in "$READONLY_ROLE" | "$MONITOR_ROLE") attrs=primary ;; esac
  echo "postgres://$1@$(ha_hosts)/$DB_NAME?target_session_attrs=$attrs"
}
HA_MONITOR_URL="postgres://postgres@127.0.0.1:$HA_PORT/pg_auto_failover"
local_url() {
  if [ "$HA" = 1 ]; then ha_url "$1"; else echo "postgres://$1@127.0.0.1:$PG_PORT/$DB_NAME"; fi
}
LOCAL_DATABASE_URL="$(local_url "$APP_ROLE")"
# The cluster's superuser: only the bootstrap (`db_roles --apply --admin-url`) uses it.
LOCAL_ADMIN_URL="$(local_url postgres)"
LOCAL_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
PGBOUNCER="${FLOWBASE_PGBOUNCER:-0}"
PGBOUNCER_PORT="${FLOWBASE_PGBOUNCER_PORT:-$((PG_PORT + 1000))}"
PGBOUNCER_DIR="$LOCAL/pgbouncer"
REPLICA="${FLOWBASE_REPLICA:-0}"
REPLICA_PORT="${FLOWBASE_REPLICA_PORT:-$((PG_PORT + 2000))}"
REPLICA_DATA="$LOCAL/replica"
REPLICATION_ROLE="flowbase_replicator"
REPLICATION_SLOT="flowbase_replica"

say() { printf '[local] %s\n' "$*" >&2; }
die() { printf '[local] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# apt-get, waiting (up to 10 min) while another apt or dpkg run holds its locks.
apt_get() {
  local err try
  for try in $(seq 120); do
    if err=$(as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=5 "$@" 2>&1 >/dev/null); then
      return 0
    fi
    case "$err" in
      *"Could not get lock"* | *"Unable to acquire the dpkg frontend lock"*) [ "$try" -eq 1 ] && say "waiting for another apt run to finish"; sleep 5 ;;
      *) printf '%s\n' "$err" >&2; return 1 ;;
    esac
  done
  die "apt is still locked by another run after 10 minutes"
}

apt_install() {
  say "installing Debian packages: $*"
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "$@"
}

ensure_packages() {
  local want=()
  if [ -z "${DATABASE_URL:-}" ]; then
    local bindir
    bindir=$(pg_bindir || true)
    if [ -z "$bindir" ] || [ ! -f "$(dirname "$bindir")/lib/pg_stat_statements.so" ]; then
      want+=(postgresql postgresql-contrib)
    fi
  fi
  command -v psql >/dev/null || want+=(postgresql-client)
  if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then want+=(redis-server); fi
  if [ "$PGBOUNCER" = 1 ] && [ ! -x /usr/sbin/pgbouncer ]; then want+=(pgbouncer); fi
  if [ ${#want[@]} -gt 0 ]; then apt_install "${want[@]}"; fi
  if [ -z "${DATABASE_URL:-}" ]; then
    local version
    version=$(basename "$(dirname "$(pg_bindir)")")
    [ "${version%%.*}" -ge 15 ] || die "PostgreSQL 15+ is required, found $version"
    id postgres >/dev/null 2>&1 || die "the postgres system user is missing (Debian's postgresql package creates it)"
    # RUM: the knowledge base's ranked search index (docs/knowledge.md).
    [ -f "/usr/share/postgresql/${version%%.*}/extension/rum.control" ] || apt_install "postgresql-${version%%.*}-rum"
    # HypoPG: hypothetical indexes for the Database section's suggested indexes (docs/dbhealth.md).
    [ -f "/usr/share/postgresql/${version%%.*}/extension/hypopg.control" ] || apt_install "postgresql-${version%%.*}-hypopg"
    # pg_auto_failover (FLOWBASE_HA=1 only): the monitor's extension and pg_autoctl.
    if [ "$HA" = 1 ] && { ! command -v pg_autoctl >/dev/null \
      || [ ! -f "/usr/share/postgresql/${version%%.*}/extension/pgautofailover.control" ]; }; then
      apt_install "postgresql-${version%%.*}-auto-failover"
    fi
  fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The postgres user must be able to reach .local/ (a clone under a 0700 temp dir would hide it).
open_path_for_postgres() {
  local dir="$LOCAL"
  while [ "$dir" != "/" ]; do
    if ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
      say "granting search permission (o+x) on $dir so the postgres user can reach .local/"
      chmod o+x "$dir"
    fi
    dir=$(dirname "$dir")
  done
}

pg_ctl_local() { runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$PGDATA" "$@"; }

pg_up() {
  local bindir
  bindir=$(pg_bindir)
  mkdir -p "$LOCAL" "$PGRUN" "$LOGDIR"
  chown postgres: "$PGRUN" "$LOGDIR" 2>/dev/null || true
  open_path_for_postgres
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    say "initialising PostgreSQL cluster in $PGDATA"
    mkdir -p "$PGDATA"
    chown postgres: "$PGDATA"
    chmod 700 "$PGDATA"
    runuser -u postgres -- "$bindir/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 >"$LOGDIR/initdb.log" 2>&1 || { cat "$LOGDIR/initdb.log" >&2; die "initdb failed"; }
    mkdir -p "$WAL_ARCHIVE"
    chown postgres: "$WAL_ARCHIVE"
    cat >>"$PGDATA/postgresql.conf" <<EOF

# --- Flowbase local cluster ---
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGRUN'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
track_io_timing = on
max_connections = 100
shared_buffers = 512MB
work_mem = 16MB
maintenance_work_mem = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = 4GB
logging_collector = off
# Point-in-time recovery: every finished WAL segment copied to the archive (docs/backups.md).
archive_mode = on
archive_command = 'test ! -f $WAL_ARCHIVE/%f && cp %p $WAL_ARCHIVE/%f'
EOF
  fi
  if pg_ctl_local status >/dev/null 2>&1; then
    say "PostgreSQL already running on port $PG_PORT (reused)"
  else
    port_busy "$PG_PORT" && die "port $PG_PORT is taken by another server; set FLOWBASE_PG_PORT to a free port"
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    pg_ctl_local -l "$LOGDIR/postgresql.log" -w -t 60 -o "-p $PG_PORT" start >/dev/null \
      || { tail -n 20 "$LOGDIR/postgresql.log" >&2; die "PostgreSQL did not start"; }
  fi
  local psql=("$bindir/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  # The roles, their grants and the database's owner come from `manage.py db_roles --apply
  # --admin-url` (the Makefile's `roles` step); an older checkout's superuser `flowbase` is
  # handed over there (--reassign-from flowbase).
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != "1" ]; then
    "${psql[@]}" -c "CREATE DATABASE $DB_NAME"
  fi
}

redis_up() {
  mkdir -p "$LOCAL/redis" "$PGRUN" "$LOGDIR"
  if [ -f "$PGRUN/redis.pid" ] && kill -0 "$(cat "$PGRUN/redis.pid")" 2>/dev/null; then
    say "Redis already running on port $REDIS_PORT (reused)"
    return
  fi
  port_busy "$REDIS_PORT" && die "port $REDIS_PORT is taken; set FLOWBASE_REDIS_PORT to a free port"
  say "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$PGRUN/redis.pid" --logfile "$LOGDIR/redis.log" --dir "$LOCAL/redis"
  for _ in $(seq 50); do port_busy "$REDIS_PORT" && return; sleep 0.1; done
  die "Redis did not start (see $LOGDIR/redis.log)"
}

# PgBouncer for the app's login: transaction pooling, so a server connection is the client's
# only for one transaction (session state - SET, session advisory locks, LISTEN, prepared
# statements, WITH HOLD cursors - must not be used through it). The loopback cluster trusts
# 127.0.0.1, so PgBouncer does too (auth_type trust, the Flowbase logins listed in auth_file).
pgbouncer_up() {
  local pidfile="$PGBOUNCER_DIR/pgbouncer.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "PgBouncer already running on port $PGBOUNCER_PORT (reused)"
    return
  fi
  port_busy "$PGBOUNCER_PORT" && die "port $PGBOUNCER_PORT is taken; set FLOWBASE_PGBOUNCER_PORT to a free port"
  mkdir -p "$PGBOUNCER_DIR"
  local user
  : >"$PGBOUNCER_DIR/users.txt"
  for user in "$APP_ROLE" "$OWNER_ROLE" "$READONLY_ROLE" "$MONITOR_ROLE" postgres; do
    printf '"%s" ""\n' "$user" >>"$PGBOUNCER_DIR/users.txt"
  done
  cat >"$PGBOUNCER_DIR/pgbouncer.ini" <<EOF
; Generated by .make/local.sh (FLOWBASE_PGBOUNCER=1); edits are overwritten.
[databases]
; Any database name (the tests' test_flowbase too), on the local cluster. pgtrigger's empty
; ignore list, which direct logins get as a startup option, is set once per server connection.
* = host=127.0.0.1 port=$PG_PORT connect_query='SET pgtrigger.ignore = ''{}'''

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGBOUNCER_DIR/users.txt
pool_mode = transaction
; At most this many server connections per (database, login): the point of the exercise.
default_pool_size = 20
max_client_conn = 1000
server_reset_query =
; A DATABASE_URL with ?options= would be refused without this (PgBouncer cannot pool them).
ignore_startup_parameters = extra_float_digits, options
logfile = $PGBOUNCER_DIR/pgbouncer.log
pidfile = $pidfile
admin_users = postgres
stats_users = postgres
EOF
  chown -R postgres: "$PGBOUNCER_DIR"
  say "starting PgBouncer (transaction mode) on 127.0.0.1:$PGBOUNCER_PORT -> PostgreSQL :$PG_PORT"
  # PgBouncer refuses to run as root: as the cluster's system user, like PostgreSQL.
  runuser -u postgres -- /usr/sbin/pgbouncer -d -q "$PGBOUNCER_DIR/pgbouncer.ini" \
    || { tail -n 20 "$PGBOUNCER_DIR/pgbouncer.log" >&2; die "PgBouncer did not start"; }
  for _ in $(seq 50); do port_busy "$PGBOUNCER_PORT" && return; sleep 0.1; done
  die "PgBouncer did not start (see $PGBOUNCER_DIR/pgbouncer.log)"
}

pgbouncer_down() {
  local pidfile="$PGBOUNCER_DIR/pgbouncer.pid"
  local pid
  if [ -f "$pidfile" ] && pid="$(cat "$pidfile")" && kill -0 "$pid" 2>/dev/null; then
    say "stopping PgBouncer"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
}

# --- streaming standby (FLOWBASE_REPLICA=1; docs/scaling.md) ------------------------------------
pg_ctl_replica() { runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$REPLICA_DATA" "$@"; }
replica_running() { [ -s "$REPLICA_DATA/PG_VERSION" ] && pg_ctl_replica status >/dev/null 2>&1; }
primary_psql() {
  "$(pg_bindir)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

# The replication login, its pg_hba line and the standby's slot on the primary (idempotent).
replica_primary_setup() {
  primary_psql -c "DO \$\$BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$REPLICATION_ROLE') THEN
      CREATE ROLE $REPLICATION_ROLE LOGIN REPLICATION;
    END IF; END\$\$"
  if ! grep -q "^host replication $REPLICATION_ROLE " "$PGDATA/pg_hba.conf"; then
    # First match wins: above initdb's catch-all lines. The loopback cluster trusts 127.0.0.1.
    runuser -u postgres -- sed -i "1i host replication $REPLICATION_ROLE 127.0.0.1/32 trust" \
      "$PGDATA/pg_hba.conf"
    primary_psql -c "SELECT pg_reload_conf()" >/dev/null
  fi
  # Reserved now: WAL from before (a slot dropped while the standby was away) comes from the archive.
  primary_psql -c "SELECT pg_create_physical_replication_slot('$REPLICATION_SLOT', true)
    WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$REPLICATION_SLOT')" >/dev/null
}

replica_up() {
  [ -z "${DATABASE_URL:-}" ] || die "FLOWBASE_REPLICA=1 follows the local cluster only; unset DATABASE_URL"
  replica_primary_setup
  if replica_running; then
    say "PostgreSQL standby already running on port $REPLICA_PORT (reused)"
    return
  fi
  port_busy "$REPLICA_PORT" && die "port $REPLICA_PORT is taken; set FLOWBASE_REPLICA_PORT to a free port"
  if [ ! -s "$REPLICA_DATA/PG_VERSION" ]; then
    say "copying the primary into $REPLICA_DATA (pg_basebackup -R)"
    rm -rf "$REPLICA_DATA"
    mkdir -p "$REPLICA_DATA"
    chown postgres: "$REPLICA_DATA"
    chmod 700 "$REPLICA_DATA"
    runuser -u postgres -- "$(pg_bindir)/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" \
      -U "$REPLICATION_ROLE" -D "$REPLICA_DATA" -R -X stream -S "$REPLICATION_SLOT" -c fast \
      >"$LOGDIR/pg_basebackup.log" 2>&1 || { cat "$LOGDIR/pg_basebackup.log" >&2; die "pg_basebackup failed"; }
    cat >>"$REPLICA_DATA/postgresql.conf" <<EOF

# --- Flowbase local standby (follows :$PG_PORT) ---
port = $REPLICA_PORT
shared_buffers = 128MB
cluster_name = 'flowbase-replica'  # its application_name in the primary's pg_stat_replication
# No hot_standby_feedback: it would hold the primary's vacuum back. Replay waits at most this
# long for a standby query it conflicts with, then cancels it (the router reads the primary then).
max_standby_streaming_delay = 5s
# Catch up from the WAL archive when the slot was dropped while the standby was away.
restore_command = 'cp $WAL_ARCHIVE/%f %p'
EOF
  fi
  say "starting PostgreSQL standby on 127.0.0.1:$REPLICA_PORT (streams from :$PG_PORT)"
  pg_ctl_replica -l "$LOGDIR/replica.log" -w -t 180 -o "-p $REPLICA_PORT" start >/dev/null \
    || { tail -n 20 "$LOGDIR/replica.log" >&2; die "PostgreSQL standby did not start"; }
}

replica_down() {
  if replica_running; then
    say "stopping PostgreSQL standby"
    # A standby's restart point follows the primary's checkpoints: a fresh one means the next
    # start replays seconds of WAL, not everything since the last timed checkpoint.
    primary_psql -c CHECKPOINT >/dev/null 2>&1 && sleep 0.5 || true
    pg_ctl_replica -m fast -w stop >/dev/null
  fi
}

# Without the standby its slot would hold WAL on the primary for ever (and show as a finding).
replica_slot_release() {
  [ -z "${DATABASE_URL:-}" ] && [ -s "$PGDATA/PG_VERSION" ] && ! replica_running || return 0
  if [ "$(primary_psql -c "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$REPLICATION_SLOT'")" = 1 ]; then
    say "dropping the stopped standby's slot $REPLICATION_SLOT (FLOWBASE_REPLICA=1 makes it again)"
    primary_psql -c "SELECT pg_drop_replication_slot('$REPLICATION_SLOT')" >/dev/null
  fi
}

# --- pg_auto_failover formation (FLOWBASE_HA=1; docs/scaling.md) --------------------------------
# pg_autoctl keeps its configuration, state and pid files under the XDG directories: all in .local/ha.
autoctl_env() {
  runuser -u postgres -- env XDG_CONFIG_HOME="$HA_DIR/config" XDG_DATA_HOME="$HA_DIR/share" \
    XDG_RUNTIME_DIR="$HA_DIR/run" PATH="$(pg_bindir):$PATH" "$@"
}
autoctl() { autoctl_env pg_autoctl "$@"; }
ha_running() { [ -s "$HA_DIR/$1/PG_VERSION" ] && autoctl status --pgdata "$HA_DIR/$1" >/dev/null 2>&1; }
monitor_psql() {
  "$(pg_bindir)/psql" -h 127.0.0.1 -p "$HA_PORT" -U postgres -d pg_auto_failover -v ON_ERROR_STOP=1 -qtA "$@"
}

# The service (keeper + its postgres) in a session of its own: killing that process group is
# the node's crash (tests/faults/test_failover.py).
ha_run() {
  local node="$1"
  ha_running "$node" && { say "pg_autoctl $node already running (reused)"; return; }
  say "starting pg_autoctl $node"
  autoctl_env setsid -f pg_autoctl run --pgdata "$HA_DIR/$node" \
    >>"$LOGDIR/ha-$node.log" 2>&1 </dev/null
  for _ in $(seq 300); do ha_running "$node" && return; sleep 0.1; done
  tail -n 20 "$LOGDIR/ha-$node.log" >&2; die "pg_autoctl $node did not start"
}

# Seconds-scale failure detection for a loopback dev formation (the defaults take ~40 s).
# The keeper of a primary cut off from both monitor and standby demotes itself after
# network_partition_timeout, which must stay below primary_demote_timeout: by the time the
# monitor promotes the standby, an old primary that is merely unreachable has stopped writing.
ha_monitor_conf() {
  cat >>"$HA_DIR/monitor/postgresql.conf" <<EOF

# --- Flowbase dev formation ---
listen_addresses = '127.0.0.1'
shared_buffers = 64MB
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 6000
EOF
}

ha_node_conf() {
  # postgresql.conf includes pg_autoctl's own file first: these lines win (it sizes
  # shared_buffers for a dedicated machine). The standby's copy comes with its base backup.
  grep -q '^# --- Flowbase dev formation ---' "$HA_DIR/$1/postgresql.conf" && return
  cat >>"$HA_DIR/$1/postgresql.conf" <<EOF

# --- Flowbase dev formation ---
shared_buffers = 256MB
effective_cache_size = 1GB
maintenance_work_mem = 128MB
work_mem = 16MB
wal_keep_size = 512MB
track_io_timing = on
pg_stat_statements.track = all
EOF
}

ha_create_node() {
  local node="$1"
  [ -s "$HA_DIR/$node/PG_VERSION" ] && return
  say "creating pg_auto_failover node $node on 127.0.0.1:$(ha_node_port "$node")"
  rm -rf "${HA_DIR:?}/$node"
  autoctl create postgres --pgdata "$HA_DIR/$node" --pgport "$(ha_node_port "$node")" \
    --listen 127.0.0.1 --hostname 127.0.0.1 --name "$node" --dbname "$DB_NAME" \
    --auth trust --no-ssl --pgctl "$(pg_bindir)/pg_ctl" \
    --monitor "postgres://autoctl_node@127.0.0.1:$HA_PORT/pg_auto_failover?sslmode=disable" \
    >>"$LOGDIR/ha-$node.log" 2>&1 || { tail -n 20 "$LOGDIR/ha-$node.log" >&2; die "pg_autoctl create $node failed"; }
  autoctl config set --pgdata "$HA_DIR/$node" timeout.network_partition_timeout 4 >/dev/null
  ha_node_conf "$node"
}

# One node primary and the other secondary, both as assigned: the formation is healthy.
ha_wait_healthy() {
  local states=""
  for _ in $(seq "$1"); do
    states=$(monitor_psql -c "SELECT string_agg(reportedstate || '/' || goalstate, ' ' ORDER BY reportedstate)
      FROM pgautofailover.node" 2>/dev/null || true)
    [ "$states" = "primary/primary secondary/secondary" ] && return
    sleep 0.5
  done
  die "the pg_auto_failover formation is not healthy after $(($1 / 2)) s: $states (logs: $LOGDIR/ha-*.log)"
}

ha_up() {
  [ -z "${DATABASE_URL:-}" ] || die "FLOWBASE_HA=1 starts its own formation; unset DATABASE_URL"
  [ "$PGBOUNCER" != 1 ] && [ "$REPLICA" != 1 ] \
    || die "FLOWBASE_HA=1 does not combine with FLOWBASE_PGBOUNCER or FLOWBASE_REPLICA"
  local node
  for node in monitor "${HA_NODES[@]}"; do
    local port="$HA_PORT"
    [ "$node" = monitor ] || port=$(ha_node_port "$node")
    if ! ha_running "$node" && port_busy "$port"; then
      die "port $port is taken; set FLOWBASE_HA_PORT to a free base port (it and the next two)"
    fi
  done
  mkdir -p "$HA_DIR" "$LOGDIR"
  chown postgres: "$HA_DIR" "$LOGDIR"
  open_path_for_postgres
  if [ ! -s "$HA_DIR/monitor/PG_VERSION" ]; then
    say "creating the pg_auto_failover monitor on 127.0.0.1:$HA_PORT"
    rm -rf "$HA_DIR/monitor"
    autoctl create monitor --pgdata "$HA_DIR/monitor" --pgport "$HA_PORT" --hostname 127.0.0.1 \
      --auth trust --no-ssl --pgctl "$(pg_bindir)/pg_ctl" >>"$LOGDIR/ha-monitor.log" 2>&1 \
      || { tail -n 20 "$LOGDIR/ha-monitor.log" >&2; die "pg_autoctl create monitor failed"; }
    autoctl config set --pgdata "$HA_DIR/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null
    ha_monitor_conf
  fi
  ha_run monitor
  # A standby is cloned from a running primary: node1 first; later starts reuse both.
  ha_create_node node1
  ha_run node1
  ha_create_node node2
  ha_run node2
  ha_wait_healthy 240
  say "pg_auto_failover formation up: monitor :$HA_PORT, nodes $(ha_hosts)"
}

# The monitor first: then stopping one node is no failure it acts on.
ha_down() {
  local node
  for node in monitor "${HA_NODES[@]}"; do
    if ha_running "$node"; then
      say "stopping pg_autoctl $node"
      autoctl stop --pgdata "$HA_DIR/$node" >/dev/null 2>&1 || true
    fi
  done
  for node in monitor "${HA_NODES[@]}"; do
    for _ in $(seq 300); do ha_running "$node" || break; sleep 0.1; done
    if ha_running "$node"; then say "pg_autoctl $node still running after 30 s"; fi
  done
  return 0
}

cmd_up() {
  ensure_packages
  if [ "$HA" = 1 ]; then
    ha_up
  elif [ -z "${DATABASE_URL:-}" ]; then pg_up; else say "using DATABASE_URL from the environment"; fi
  if [ "$PGBOUNCER" = 1 ]; then
    [ -z "${DATABASE_URL:-}" ] || die "FLOWBASE_PGBOUNCER=1 fronts the local cluster only; unset DATABASE_URL"
    pgbouncer_up
  fi
  if [ "$REPLICA" = 1 ]; then replica_up; elif [ "$HA" != 1 ]; then replica_slot_release; fi
  if [ -z "${REDIS_URL:-}" ]; then redis_up; else say "using REDIS_URL from the environment"; fi
}

# The browser tests drive Debian's Chromium through its chromedriver (no browser download).
cmd_browser() {
  if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    apt_install chromium chromium-driver
  fi
}

cmd_down() {
  pgbouncer_down
  replica_down
  ha_down
  if [ -s "$PGDATA/PG_VERSION" ] && pg_ctl_local status >/dev/null 2>&1; then
    say "stopping PostgreSQL"
    pg_ctl_local -m fast -w stop >/dev/null
  fi
  if [ -f "$PGRUN/redis.pid" ] && kill -0 "$(cat "$PGRUN/redis.pid")" 2>/dev/null; then
    say "stopping Redis"
    kill "$(cat "$PGRUN/redis.pid")"
    rm -f "$PGRUN/redis.pid"
  fi
}

cmd_env() {
  if [ "$PGBOUNCER" = 1 ] && [ -z "${DATABASE_URL:-}" ]; then
    echo "export DATABASE_URL='postgres://$APP_ROLE@127.0.0.1:$PGBOUNCER_PORT/$DB_NAME'"
    echo "export DB_PGBOUNCER=1"
    echo "export DIRECT_DATABASE_URL='$LOCAL_DATABASE_URL'"
  else
    echo "export DATABASE_URL='${DATABASE_URL:-$LOCAL_DATABASE_URL}'"
  fi
  if [ -z "${DATABASE_URL:-}" ]; then
    echo "export MIGRATE_DATABASE_URL='${MIGRATE_DATABASE_URL:-$(local_url "$OWNER_ROLE")}'"
    echo "export READONLY_DATABASE_URL='${READONLY_DATABASE_URL:-$(local_url "$READONLY_ROLE")}'"
    echo "export MONITOR_DATABASE_URL='${MONITOR_DATABASE_URL:-$(local_url "$MONITOR_ROLE")}'"
    echo "export FLOWBASE_ADMIN_DATABASE_URL='$LOCAL_ADMIN_URL'"
    if [ "$HA" = 1 ]; then echo "export FLOWBASE_HA_MONITOR_URL='$HA_MONITOR_URL'"; fi
  else
    for name in MIGRATE_DATABASE_URL MAINTENANCE_DATABASE_URL READONLY_DATABASE_URL MONITOR_DATABASE_URL; do
      if [ -n "${!name:-}" ]; then echo "export $name='${!name}'"; fi
    done
  fi
  if [ -n "${REPLICA_DATABASE_URL:-}" ]; then
    echo "export REPLICA_DATABASE_URL='$REPLICA_DATABASE_URL'"
  elif [ "$REPLICA" = 1 ] && [ -z "${DATABASE_URL:-}" ] && replica_running; then
    echo "export REPLICA_DATABASE_URL='postgres://$APP_ROLE@127.0.0.1:$REPLICA_PORT/$DB_NAME'"
  fi
  echo "export REDIS_URL='${REDIS_URL:-$LOCAL_REDIS_URL}'"
  echo "export DJANGO_SETTINGS_MODULE='${DJANGO_SETTINGS_MODULE:-dataplatform.settings.dev}'"
  echo "export PATH='$ROOT/.venv/bin':\"\$PATH\""
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  browser) cmd_browser ;;
  # Fresh server connections: nothing a previous run left in a session reaches the next one.
  restart-pgbouncer) pgbouncer_down; pgbouncer_up ;;
  replica-up) ensure_packages; pg_up; replica_up ;;
  replica-down) replica_down ;;
  ha-up) [ "$HA" = 1 ] || die "ha-up needs FLOWBASE_HA=1"; ensure_packages; ha_up ;;
  ha-down) ha_down ;;
  env) cmd_env ;;
  *) die "usage: $0 up|down|env|browser|restart-pgbouncer|replica-up|replica-down|ha-up|ha-down" ;;
esac
