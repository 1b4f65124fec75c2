"""Raw SQL the ORM cannot say: catalog queries, archive moves, REFRESH (locks: apps/pg/locks.py).

Identifiers interpolated with str.format come from the catalog (quote_ident / regclass output)
or from code constants, never from user input.
"""

# --- materialized views ------------------------------------------------------------------------
MATVIEW_POPULATED = """
SELECT c.relispopulated
FROM pg_class c
WHERE c.oid = to_regclass(%s) AND c.relkind = 'm'
"""
REFRESH_MATVIEW = "REFRESH MATERIALIZED VIEW {concurrently}{name}"
MATVIEW_ROWS = "SELECT count(*) FROM {name}"

# --- statistics and vacuum ---------------------------------------------------------------------
# Leaf tables (ordinary tables and partitions) whose statistics are stale.
STALE_STATISTICS = """
SELECT s.relid::regclass::text AS relation,
       s.n_mod_since_analyze,
       s.n_live_tup,
       COALESCE(GREATEST(s.last_analyze, s.last_autoanalyze)::text, '') AS last_analyzed,
       c.relispartition AS is_partition
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')
  AND s.n_mod_since_analyze >= GREATEST(%(min_rows)s, %(ratio)s * s.n_live_tup)
ORDER BY s.n_mod_since_analyze DESC
"""
# Partitioned parents: autovacuum never analyzes them, so they need an explicit ANALYZE when a
# partition is analyzed or when they have no statistics at all.
PARTITIONED_PARENTS = """
SELECT p.oid::regclass::text AS relation,
       -- pg_stats, not pg_statistic (superuser only): the rows of columns this role can read.
       NOT EXISTS (SELECT 1 FROM pg_stats st
                   WHERE st.schemaname = n.nspname AND st.tablename = p.relname) AS never_analyzed,
       ARRAY(SELECT t.relid::regclass::text FROM pg_partition_tree(p.oid) t
             WHERE t.relid <> p.oid) AS members
FROM pg_class p
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE p.relkind = 'p' AND NOT p.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1
"""
VACUUM_CANDIDATES = """
SELECT s.relid::regclass::text AS relation,
       s.n_dead_tup,
       s.n_live_tup,
       round(s.n_dead_tup::numeric / NULLIF(s.n_live_tup + s.n_dead_tup, 0), 4) AS dead_ratio,
       COALESCE(GREATEST(s.last_vacuum, s.last_autovacuum)::text, '') AS last_vacuumed,
       pg_total_relation_size(s.relid) AS total_bytes
FROM pg_stat_user_tables s
WHERE s.n_dead_tup >= %(min_dead)s
  AND s.n_dead_tup::numeric / NULLIF(s.n_live_tup + s.n_dead_tup, 0) >= %(ratio)s
ORDER BY s.n_dead_tup DESC
"""

# --- archive ------------------------------------------------------------------------------------
ADD_ARCHIVE_COLUMN = "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type}"

# Single-column foreign keys pointing at workflows/tasks from tables the archiver does not move.
FOREIGN_REFERENCES = """
SELECT c.conrelid::regclass::text, quote_ident(a.attname), c.confrelid::regclass::text
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND c.conparentid = 0 AND cardinality(c.conkey) = 1
  AND c.confrelid IN ('workflows_workflow'::regclass, 'tasks_task'::regclass)
ORDER BY 1, 2
"""
ARCHIVE_WORKFLOW_AGE = """
w.status IN ('completed', 'cancelled')
AND COALESCE(w.completed_at, w.updated_at) < %(cutoff)s
"""
# Kept live: restored workflows not completed again since, and workflows a task of another
# (live) workflow depends on, so no live task ever loses an edge to the archive.
ARCHIVE_WORKFLOW_FILTER = (
    ARCHIVE_WORKFLOW_AGE
    + """
AND NOT EXISTS (
    SELECT 1 FROM tasks_task c JOIN tasks_task p ON p.id = c.parent_id
    WHERE p.workflow_id = w.id AND c.workflow_id <> w.id)
AND NOT EXISTS (
    SELECT 1 FROM ops_archivehold h
    WHERE h.workflow_id = w.id AND (w.completed_at IS NULL OR w.completed_at <= h.restored_at))
AND NOT EXISTS (
    SELECT 1 FROM tasks_task t
    JOIN tasks_taskdependency d ON d.depends_on_id = t.id
    JOIN tasks_task dependent ON dependent.id = d.task_id
    WHERE t.workflow_id = w.id AND dependent.workflow_id <> w.id)
"""
)
# Why old finished workflows stay live (for the run's report; a sample per reason).
ARCHIVE_KEPT_BY_DEPENDENTS = (
    """
SELECT DISTINCT ON (w.id) w.id, t.id, dependent.id, dependent.workflow_id
FROM workflows_workflow w
JOIN tasks_task t ON t.workflow_id = w.id
JOIN tasks_taskdependency d ON d.depends_on_id = t.id
JOIN tasks_task dependent ON dependent.id = d.task_id AND dependent.workflow_id <> w.id
WHERE """
    + ARCHIVE_WORKFLOW_AGE
    + """
ORDER BY w.id, t.id, dependent.id
LIMIT %(limit)s
"""
)
ARCHIVE_KEPT_BY_HOLD = (
    """
SELECT w.id, h.restored_at FROM workflows_workflow w
JOIN ops_archivehold h
  ON h.workflow_id = w.id AND (w.completed_at IS NULL OR w.completed_at <= h.restored_at)
WHERE """
    + ARCHIVE_WORKFLOW_AGE
    + """
ORDER BY w.id
LIMIT %(limit)s
"""
)
ARCHIVE_KEPT_COUNTS = (
    """
SELECT count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM tasks_task t
           JOIN tasks_taskdependency d ON d.depends_on_id = t.id
           JOIN tasks_task dependent ON dependent.id = d.task_id
           WHERE t.workflow_id = w.id AND dependent.workflow_id <> w.id)),
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM ops_archivehold h WHERE h.workflow_id = w.id
             AND (w.completed_at IS NULL OR w.completed_at <= h.restored_at)))
FROM workflows_workflow w
WHERE """
    + ARCHIVE_WORKFLOW_AGE
)
DELETE_HOLDS = "DELETE FROM ops_archivehold WHERE workflow_id = ANY(%s)"
REFERENCED_BY_WORKFLOW = "AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.{column} = w.id)"
REFERENCED_BY_TASK = (
    "AND NOT EXISTS (SELECT 1 FROM {table} r JOIN tasks_task rt ON rt.id = r.{column}"
    " WHERE rt.workflow_id = w.id)"
)
ARCHIVE_PICK_BATCH = """
SELECT w.id FROM workflows_workflow w
WHERE {filter}
ORDER BY w.id
LIMIT %(limit)s
FOR UPDATE OF w SKIP LOCKED
"""
ARCHIVE_COUNT_CANDIDATES = """
WITH wf AS (SELECT w.id FROM workflows_workflow w WHERE {filter}),
     tk AS (SELECT t.id FROM tasks_task t WHERE t.workflow_id IN (SELECT id FROM wf))
SELECT (SELECT count(*) FROM wf),
       (SELECT count(*) FROM tk),
       (SELECT count(*) FROM tasks_taskdependency d
         WHERE d.task_id IN (SELECT id FROM tk) OR d.depends_on_id IN (SELECT id FROM tk))
"""
LOCK_TASKS_OF = (
    "SELECT t.id FROM tasks_task t WHERE t.workflow_id = ANY(%s) ORDER BY t.id FOR UPDATE"
)

INSERT_ARCHIVE_WORKFLOWS = (
    "INSERT INTO archive.workflows_workflow ({cols}, archived_at)"
    " SELECT {cols}, %(now)s FROM workflows_workflow WHERE id = ANY(%(ids)s)"
)
INSERT_ARCHIVE_TASKS = (
    "INSERT INTO archive.tasks_task ({cols}, archived_at)"
    " SELECT {cols}, %(now)s FROM tasks_task WHERE id = ANY(%(ids)s)"
)
INSERT_ARCHIVE_DEPENDENCIES = (
    "INSERT INTO archive.tasks_taskdependency ({cols}, archived_at)"
    " SELECT {cols}, %(now)s FROM tasks_taskdependency"
    " WHERE task_id = ANY(%(ids)s) OR depends_on_id = ANY(%(ids)s)"
)
# Statements run under pgtrigger.ignore(), which prepends "SELECT set_config(…, %s, true);":
# positional placeholders only (psycopg refuses mixing), and read rowcount from the last result.
DELETE_DEPENDENCIES = (
    "DELETE FROM tasks_taskdependency WHERE task_id = ANY(%s) OR depends_on_id = ANY(%s)"
)
DELETE_TASKS = "DELETE FROM tasks_task WHERE id = ANY(%s)"
DELETE_WORKFLOWS = "DELETE FROM workflows_workflow WHERE id = ANY(%s)"

# Restore: the reverse, for one workflow.
LOCK_ARCHIVED_WORKFLOW = "SELECT id FROM archive.workflows_workflow WHERE id = %s FOR UPDATE"
LIVE_WORKFLOW_EXISTS = "SELECT EXISTS (SELECT 1 FROM workflows_workflow WHERE id = %s)"
RESTORE_WORKFLOW = (
    "INSERT INTO workflows_workflow ({cols}) SELECT {cols} FROM archive.workflows_workflow"
    " WHERE id = %(id)s"
)
RESTORE_TASKS = (
    "INSERT INTO tasks_task ({cols}) SELECT {cols} FROM archive.tasks_task WHERE workflow_id = %s"
)
# Only dependencies whose both ends are live again (the other end may still be archived).
RESTORE_DEPENDENCIES = """
INSERT INTO tasks_taskdependency ({cols})
SELECT {dcols} FROM archive.tasks_taskdependency d
WHERE (d.task_id IN (SELECT id FROM archive.tasks_task WHERE workflow_id = %(id)s)
       OR d.depends_on_id IN (SELECT id FROM archive.tasks_task WHERE workflow_id = %(id)s))
  AND EXISTS (SELECT 1 FROM tasks_task t WHERE t.id = d.task_id)
  AND EXISTS (SELECT 1 FROM tasks_task t WHERE t.id = d.depends_on_id)
RETURNING id
"""
# Triggers on the live tables (progress roll-ups) may have rewritten the workflow row while
# its tasks came back; put the archived values back.
RESYNC_WORKFLOW = """
UPDATE workflows_workflow w SET ({cols}) = (SELECT {cols} FROM archive.workflows_workflow a
                                           WHERE a.id = %s)
WHERE w.id = %s
  AND ROW({wcols}) IS DISTINCT FROM (SELECT ROW({cols}) FROM archive.workflows_workflow a
                                     WHERE a.id = %s)
"""
DELETE_ARCHIVED_DEPENDENCIES = "DELETE FROM archive.tasks_taskdependency WHERE id = ANY(%(ids)s)"
DELETE_ARCHIVED_TASKS = "DELETE FROM archive.tasks_task WHERE workflow_id = %(id)s"
DELETE_ARCHIVED_WORKFLOW = "DELETE FROM archive.workflows_workflow WHERE id = %(id)s"
