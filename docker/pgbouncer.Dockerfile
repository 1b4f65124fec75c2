# PgBouncer in transaction mode in front of postgres for the app's login (docs/scaling.md):
# Debian's package, as `make run`/`make test-pgbouncer` use it (FLOWBASE_PGBOUNCER=1).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/*
COPY pgbouncer/pgbouncer.ini /etc/pgbouncer/pgbouncer.ini
COPY pgbouncer/entrypoint.sh /usr/local/bin/pgbouncer-entrypoint
# The auth file is written at start (passwords come from the environment), by this user:
# PgBouncer refuses to run as root; Debian's package runs it as postgres.
RUN chmod 0755 /usr/local/bin/pgbouncer-entrypoint \
    && mkdir -p /run/pgbouncer && chown postgres: /run/pgbouncer
USER postgres
EXPOSE 6432
ENTRYPOINT ["/usr/local/bin/pgbouncer-entrypoint"]
