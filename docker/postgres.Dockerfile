# PostgreSQL 15 with the extensions Flowbase's bootstrap creates that the official image lacks
# (rum: docs/knowledge.md). The official image carries the PGDG apt source for its version.
FROM postgres:15
RUN apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}-rum" \
    && rm -rf /var/lib/apt/lists/*
