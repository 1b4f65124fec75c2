"""The PostgreSQL ground floor: SQL runner, quoting, locks, errors and retry, bulk COPY,
catalog readers and the partitioning toolkit. It imports no other Flowbase app (only Django,
psycopg, psqlextra and pgtrigger): domain apps build on it, never the reverse."""
