"""Trigger bodies of the task rules that span rows: no dependency cycles, dependencies and
subtasks inside one project. SQL templates that name tables by model label
(`{tables[tasks.Task]}`, rendered by apps.pg.triggers.ModelFunc from `_meta`) and import no
model, so the workflow model can use the move check too.

Race safety, for every writer and isolation level: every transaction that adds or re-points a
dependency, or moves a task or workflow to another project, first bumps its project's row in
`tasks_dependencygraph` (once per transaction). The row lock queues graph writers: under
READ COMMITTED the next one waits and its next statement's fresh snapshot sees the committed
edges; under REPEATABLE READ and SERIALIZABLE a writer whose snapshot predates a concurrent
bump gets SQLSTATE 40001 ("could not serialize access due to concurrent update") instead of
committing a cycle it cannot see.
"""

GRAPH_TABLE = "tasks_dependencygraph"  # DependencyGraph.Meta.db_table


def bump_graph(project: str) -> str:
    """Bump (and lock) the graph row of `project` (an SQL expression), once per transaction."""
    return f"""
    INSERT INTO {{tables[tasks.DependencyGraph]}} AS g (project_id, version, last_txid)
    VALUES ({project}, 1, txid_current())
    ON CONFLICT (project_id) DO UPDATE SET version = g.version + 1, last_txid = EXCLUDED.last_txid
        WHERE g.last_txid IS DISTINCT FROM EXCLUDED.last_txid;
    """


# A dependency may not close a cycle (any length) and may cross workflows only inside one
# project. The projects are read again after the graph row is locked: a concurrent move of
# either task's workflow to another project (which bumps the graph rows too) is then visible.
NO_CYCLES = f"""
bumped := NULL;
LOOP
    SELECT tw.project_id, dw.project_id INTO task_project, dep_project
      FROM {{tables[tasks.Task]}} t JOIN {{tables[workflows.Workflow]}} tw ON tw.id = t.workflow_id,
           {{tables[tasks.Task]}} d JOIN {{tables[workflows.Workflow]}} dw ON dw.id = d.workflow_id
     WHERE t.id = NEW.task_id AND d.id = NEW.depends_on_id;
    EXIT WHEN task_project IS NULL OR task_project IS NOT DISTINCT FROM bumped;
    -- Already bumped by this transaction: the row is locked since then, nothing to re-read.
    EXIT WHEN (SELECT g.last_txid FROM {{tables[tasks.DependencyGraph]}} g WHERE g.project_id = task_project)
              IS NOT DISTINCT FROM txid_current();
    {bump_graph("task_project")}
    bumped := task_project;
END LOOP;
IF task_project IS DISTINCT FROM dep_project THEN
    RAISE EXCEPTION 'task dependency % -> %: the tasks belong to different projects (% and %); '
        'dependencies may cross workflows only inside one project',
        NEW.task_id, NEW.depends_on_id, task_project, dep_project
        USING ERRCODE = 'check_violation';
END IF;
-- The new edge closes a cycle iff depends_on reaches task along "depends on" edges: one recursive
-- walk (UNION drops nodes already reached, EXISTS stops at the first hit; OFFSET 0 keeps each
-- step an index probe per node, never a hash join over the whole table). EXECUTE plans it
-- with the table's current size, so a plan cached while the table was empty (seq scan) cannot
-- make bulk inserts quadratic; one statement per edge, not one per level of the graph.
EXECUTE 'WITH RECURSIVE reach(node) AS (SELECT $1::bigint UNION SELECT d.depends_on_id '
        'FROM reach r, LATERAL (SELECT depends_on_id FROM {{tables[tasks.TaskDependency]}} '
        'WHERE task_id = r.node OFFSET 0) d) '
        'SELECT EXISTS (SELECT 1 FROM reach WHERE node = $2)'
   INTO closes USING NEW.depends_on_id, NEW.task_id;
IF closes THEN
    WITH RECURSIVE walk(node, path) AS (
        SELECT NEW.depends_on_id, ARRAY[NEW.task_id, NEW.depends_on_id]
        UNION ALL
        SELECT d.depends_on_id, w.path || d.depends_on_id
          FROM walk w JOIN {{tables[tasks.TaskDependency]}} d ON d.task_id = w.node
         WHERE w.node <> NEW.task_id AND NOT d.depends_on_id = ANY (w.path[2:])
    )
    SELECT path INTO cycle FROM walk WHERE node = NEW.task_id LIMIT 1;
    RAISE EXCEPTION 'dependency cycle: task %', array_to_string(cycle, ' -> ')
        USING ERRCODE = 'check_violation',
              DETAIL = format('adding %s -> %s would close the cycle (task ids)',
                              NEW.task_id, NEW.depends_on_id);
END IF;
RETURN NULL;
"""
NO_CYCLES_DECLARE = [
    ("task_project", "bigint"),
    ("dep_project", "bigint"),
    ("bumped", "bigint"),
    ("cycle", "bigint[]"),
    ("closes", "boolean"),
]

# Relations of one task that would cross projects, as (message, other task) rows; `{task}` is the
# task's id, `{project}` the project it must share with them.
_TASK_RELATIONS_ELSEWHERE = """
SELECT format('its subtask %s (%s) is in project %s', c.id, c.title, w.project_id)
  FROM {{tables[tasks.Task]}} c JOIN {{tables[workflows.Workflow]}} w ON w.id = c.workflow_id
 WHERE c.parent_id = {task} AND w.project_id <> {project}
UNION ALL
SELECT format('its dependency on task %s (%s) is in project %s', o.id, o.title, w.project_id)
  FROM {{tables[tasks.TaskDependency]}} d JOIN {{tables[tasks.Task]}} o ON o.id = d.depends_on_id
  JOIN {{tables[workflows.Workflow]}} w ON w.id = o.workflow_id
 WHERE d.task_id = {task} AND w.project_id <> {project}
UNION ALL
SELECT format('task %s (%s) of project %s depends on it', o.id, o.title, w.project_id)
  FROM {{tables[tasks.TaskDependency]}} d JOIN {{tables[tasks.Task]}} o ON o.id = d.task_id
  JOIN {{tables[workflows.Workflow]}} w ON w.id = o.workflow_id
 WHERE d.depends_on_id = {task} AND w.project_id <> {project}
"""

# A subtask's parent belongs to the same project as the subtask's workflow, and a task moved to
# another project takes no subtask or dependency across. FOR KEY SHARE on the rows read blocks
# a concurrent move of the parent or of either workflow (workflow_id and project_id are key
# columns) without conflicting with ordinary updates such as status changes or roll-ups. The
# move then waits and sees the subtask (READ COMMITTED) or fails with 40001 (SERIALIZABLE);
# under REPEATABLE READ a lock does not change the mover's snapshot, so that race is not caught.
SUBTASK_SAME_PROJECT = f"""
SELECT w.project_id INTO task_project
  FROM {{tables[workflows.Workflow]}} w WHERE w.id = NEW.workflow_id FOR KEY SHARE;
IF NEW.parent_id IS NOT NULL THEN
    SELECT p.title, w.project_id INTO parent_title, parent_project
      FROM {{tables[tasks.Task]}} p JOIN {{tables[workflows.Workflow]}} w ON w.id = p.workflow_id
     WHERE p.id = NEW.parent_id
       FOR KEY SHARE OF p, w;
    IF FOUND AND parent_project IS DISTINCT FROM task_project THEN
        RAISE EXCEPTION 'task % (%): parent task % (%) belongs to project %, but the task''s '
            'workflow % belongs to project %; a subtask''s parent must be in the same project',
            NEW.id, NEW.title, NEW.parent_id, parent_title, parent_project,
            NEW.workflow_id, task_project
            USING ERRCODE = 'check_violation';
    END IF;
END IF;
IF TG_OP = 'UPDATE' AND NEW.workflow_id IS DISTINCT FROM OLD.workflow_id THEN
    SELECT w.project_id INTO old_project FROM {{tables[workflows.Workflow]}} w WHERE w.id = OLD.workflow_id;
    IF old_project IS DISTINCT FROM task_project THEN
        {bump_graph("least(old_project, task_project)")}
        {bump_graph("greatest(old_project, task_project)")}
        SELECT r INTO conflict FROM ({
    _TASK_RELATIONS_ELSEWHERE.format(task="NEW.id", project="task_project")
}) x(r) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'task % (%) cannot move to workflow % of project %: %',
                NEW.id, NEW.title, NEW.workflow_id, task_project, conflict
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
END IF;
RETURN NULL;
"""
SUBTASK_SAME_PROJECT_DECLARE = [
    ("task_project", "bigint"),
    ("old_project", "bigint"),
    ("parent_project", "bigint"),
    ("parent_title", "text"),
    ("conflict", "text"),
]

# A workflow moved to another project takes no subtask relation or dependency across projects.
WORKFLOW_MOVE_KEEPS_RELATIONS = f"""
{bump_graph("least(OLD.project_id, NEW.project_id)")}
{bump_graph("greatest(OLD.project_id, NEW.project_id)")}
SELECT r INTO conflict FROM (
    SELECT format('task %s (%s) has parent task %s (%s) in project %s',
                  c.id, c.title, p.id, p.title, w.project_id)
      FROM {{tables[tasks.Task]}} c JOIN {{tables[tasks.Task]}} p ON p.id = c.parent_id
      JOIN {{tables[workflows.Workflow]}} w ON w.id = p.workflow_id
     WHERE c.workflow_id = NEW.id AND w.project_id <> NEW.project_id
    UNION ALL
    SELECT format('task %s (%s) has subtask %s (%s) in project %s',
                  p.id, p.title, c.id, c.title, w.project_id)
      FROM {{tables[tasks.Task]}} p JOIN {{tables[tasks.Task]}} c ON c.parent_id = p.id
      JOIN {{tables[workflows.Workflow]}} w ON w.id = c.workflow_id
     WHERE p.workflow_id = NEW.id AND w.project_id <> NEW.project_id
    UNION ALL
    SELECT format('task %s (%s) depends on task %s (%s) in project %s',
                  t.id, t.title, o.id, o.title, w.project_id)
      FROM {{tables[tasks.Task]}} t JOIN {{tables[tasks.TaskDependency]}} d ON d.task_id = t.id
      JOIN {{tables[tasks.Task]}} o ON o.id = d.depends_on_id JOIN {{tables[workflows.Workflow]}} w ON w.id = o.workflow_id
     WHERE t.workflow_id = NEW.id AND w.project_id <> NEW.project_id
    UNION ALL
    SELECT format('task %s (%s) in project %s depends on task %s (%s)',
                  o.id, o.title, w.project_id, t.id, t.title)
      FROM {{tables[tasks.Task]}} t JOIN {{tables[tasks.TaskDependency]}} d ON d.depends_on_id = t.id
      JOIN {{tables[tasks.Task]}} o ON o.id = d.task_id JOIN {{tables[workflows.Workflow]}} w ON w.id = o.workflow_id
     WHERE t.workflow_id = NEW.id AND w.project_id <> NEW.project_id
) x(r) LIMIT 1;
IF FOUND THEN
    RAISE EXCEPTION 'workflow % (%) cannot move to project %: %',
        NEW.id, NEW.name, NEW.project_id, conflict
        USING ERRCODE = 'check_violation',
              HINT = 'Subtasks and dependencies stay inside one project; move the related workflows too, in the same statement.';
END IF;
RETURN NULL;
"""
