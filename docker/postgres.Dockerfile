# The database image: PostgreSQL 15 with the extensions Flowbase uses beyond contrib
# (HypoPG for hypothetical indexes, RUM for ranked search), from the PGDG packages the
# official image already has configured. pg_stat_statements (contrib) is preloaded by compose.
FROM postgres:15
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15-hypopg postgresql-15-rum \
    && rm -rf /var/lib/apt/lists/*
