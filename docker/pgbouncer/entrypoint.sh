#!/bin/sh
# The app's login and its password (from the environment) for PgBouncer's SCRAM exchange with
# the clients and with postgres; then PgBouncer in the foreground.
set -eu
umask 077
printf '"flowbase_app" "%s"\n' "${FLOWBASE_APP_PASSWORD:?set FLOWBASE_APP_PASSWORD}" \
  >/run/pgbouncer/users.txt
exec /usr/sbin/pgbouncer /etc/pgbouncer/pgbouncer.ini
