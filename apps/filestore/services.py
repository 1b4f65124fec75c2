"""Import from the legacy file store (the export is in exporting.py).

Phases: discover → parse, validate and plan (parsing.py, planning.py: pure Python, streamed) →
write, one transaction per file (`file_import`), in batched upserts (sql.py). With --strict every
warning is an error and the whole run is all or nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils.text import slugify

from apps.filestore import selectors, sql
from apps.filestore.discovery import Source, discover
from apps.filestore.parsing import (
    N8nWorkflow,
    ParsedFile,
    TagRecord,
    TaskRecord,
    jsonio,
    legacy_json,
    parse_file,
)
from apps.filestore.planning import TagPlan, plan_tag, write_order
from apps.filestore.problems import Problems
from apps.filestore.report import FileReport, ImportReport
from apps.pg.retry import retry_on_serialization_failure
from apps.projects.models import Project
from apps.projects.services import project_create
from apps.tasks.models import Task
from apps.workflows.models import Workflow
from apps.workflows.services import workflow_changes, workflow_create, workflow_update

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
DEFAULT_BATCH_SIZE = 5000
# The database's per-row cycle check walks the edges of the current batch (see
# planning.write_order), so its cost grows with this size; 5000 measured best (40k tasks).
DEPENDENCY_BATCH_SIZE = 5000
# From this many dependencies on, statistics are refreshed and index scans forced for them.
ANALYZE_AFTER = 2000
KIND_ORDER = {"config": 0, "state": 0, "tasks": 1, "n8n": 2, "document": 3, "template": 4}
SETTINGS_KEYS = {"config": "taskmaster", "state": "taskmaster_state"}


@dataclass
class ImportRun:
    """What the files of one run share: workflow names given out (a dry run writes none)."""

    dry_run: bool = False
    claimed: dict[tuple[str, str], str] = field(default_factory=dict)  # (project, name) → key


@dataclass
class FileJob:
    source: Source
    project_name: str
    parsed: ParsedFile
    report: FileReport
    run: ImportRun
    prune: bool = False
    strict: bool = False  # warnings found while writing are errors too
    plans: list[TagPlan] = field(default_factory=list)
    # found while writing; each attempt starts afresh
    write_problems: Problems | None = None
    where: str = ""  # JSON pointer of what is being written (for database errors)
    # (plan, database id by record index) of each tag written: messages name tasks by file ids
    written: list[tuple[TagPlan, array]] = field(default_factory=list)


# --- import --------------------------------------------------------------------------------------
def filestore_import(
    *,
    paths: list[Path],
    project_name: str | None = None,
    dry_run: bool = False,
    strict: bool = False,
    prune: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    report = ImportReport(dry_run=dry_run, strict=strict, prune=prune)
    run = ImportRun(dry_run=dry_run)
    jobs: list[FileJob] = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            report.files.append(_failed_path(path, "missing", "no such file or directory"))
            continue
        target = discover(path)
        if not target.sources:
            message = "nothing to import: no tasks, config, docs, templates or JSON files"
            report.files.append(_failed_path(path, "empty", message))
            continue
        name = project_name or target.project_hint
        for source in sorted(target.sources, key=lambda s: KIND_ORDER.get(s.role or "n8n", 2)):
            jobs.append(_prepare(source, name, run, strict=strict, prune=prune))
    report.files.extend(job.report for job in jobs)

    try:
        if strict and not (report.ok and all(job.parsed.ok for job in jobs)):
            for job in jobs:
                if job.parsed.ok:
                    job.report.status = "not_written"
                _count_read(job)
                _finish(job, started_at=None)
        elif strict and not dry_run:
            try:
                with transaction.atomic():
                    for job in jobs:
                        _run(job, dry_run=False, batch_size=batch_size, progress=progress)
                        if job.report.status == "failed":
                            raise _StrictAbort
            except _StrictAbort:
                for job in jobs:
                    if job.report.status != "failed":
                        job.report.status = "not_written"
        else:
            for job in jobs:
                _run(job, dry_run=dry_run, batch_size=batch_size, progress=progress)
    finally:
        for job in jobs:
            job.parsed.close()
    report.duration_s = time.perf_counter() - started
    return report


class _StrictAbort(Exception):
    pass


def _failed_path(path: Path, kind: str, message: str) -> FileReport:
    file_report = FileReport(str(path), kind, status="failed")
    problems = Problems(str(path))
    problems.error("", message)
    file_report.attach(problems.items)
    return file_report


def _prepare(
    source: Source, project_name: str, run: ImportRun, *, strict: bool, prune: bool
) -> FileJob:
    started = time.perf_counter()
    parsed = parse_file(source.path, source.role, source=source.name)
    for loser in source.shadowed:
        parsed.problems.warning(
            "",
            f"{loser} not imported: Task Master reads {source.path.name} in "
            f"{source.path.parent} first (one {source.role} file per project)",
        )
    report = FileReport(str(source.path), parsed.kind, project=project_name)
    job = FileJob(source, project_name, parsed, report, run, prune=prune, strict=strict)
    if parsed.ok and parsed.tasks is not None:
        job.plans = [plan_tag(tag, parsed.problems) for tag in parsed.tasks.tags]
    if strict:
        parsed.problems.promote_warnings()
    report.duration_s = time.perf_counter() - started
    return job


def _finish(job: FileJob, *, started_at: float | None) -> None:
    problems = job.parsed.problems
    if not job.report.problems:
        job.report.attach(problems.items)
        if job.write_problems is not None:
            job.report.attach(job.write_problems.items)
        job.report.unlisted = sum(problems.unlisted.values())
    failed = problems.failed or (job.write_problems is not None and job.write_problems.failed)
    if failed and job.report.status != "not_written":
        job.report.status = "failed"
    if started_at is not None:
        job.report.duration_s += time.perf_counter() - started_at


def _run(job: FileJob, *, dry_run: bool, batch_size: int, progress: Progress | None) -> None:
    started = time.perf_counter()
    parsed, report = job.parsed, job.report
    _count_read(job)
    if not parsed.ok:
        _finish(job, started_at=started)
        return
    try:
        if dry_run:
            _start_attempt(job)
            _dry_run_counts(job)
            report.status = "planned"
        else:
            file_import(job, batch_size=batch_size, progress=progress)
            changed = any(c.created or c.updated or c.deleted for c in report.entities.values())
            report.status = "imported" if changed else "unchanged"
    except DatabaseError as exc:
        _reset_counts(job)
        job.write_problems.error(job.where, _describe_database_error(exc, job))
    except ValidationError as exc:  # a service refused a record; its messages name it
        _reset_counts(job)
        job.write_problems.error(job.where, "; ".join(exc.messages))
    except Exception as exc:  # a bug must not stop the other files nor lose the report
        logger.exception("import_filestore: %s failed", parsed.path)
        _reset_counts(job)
        job.write_problems.error(
            job.where, f"internal error, nothing written for this file: {type(exc).__name__}: {exc}"
        )
    _finish(job, started_at=started)


@retry_on_serialization_failure  # a refused attempt (40001) re-runs from the start
def file_import(
    job: FileJob, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
) -> None:
    """Write one parsed and planned file in one transaction: all of it or nothing.

    Each call starts afresh (counts and write-time problems), so a caller may simply call it again
    after a failed attempt, e.g. on a serialization failure.
    """
    _start_attempt(job)
    sql.create_stages()
    sql.pgtrigger_fast_path()
    _write(job, batch_size=batch_size, progress=progress)


def _start_attempt(job: FileJob) -> None:
    job.write_problems = Problems(str(job.parsed.path))
    job.where = ""
    job.written = []
    _reset_counts(job)


def _reset_counts(job: FileJob) -> None:
    for counts in job.report.entities.values():
        counts.created = counts.updated = counts.unchanged = counts.deleted = 0
        counts.skipped = 0


_DB_TASK_IDS = re.compile(r"\b(task(?: dependency)?) (\d+(?: -> \d+)+)")


def _describe_database_error(exc: DatabaseError, job: FileJob) -> str:
    """One line for the report, naming tasks by the file's ids where the database used its own."""
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    if isinstance(exc, OperationalError | InterfaceError) and (
        "connection" in text.lower() or "terminat" in text.lower() or not lines
    ):
        detail = lines[0] if lines else type(exc).__name__
        return f"database connection lost, nothing written for this file: {detail}"
    message = lines[0] if lines else type(exc).__name__
    key_of = {ids[t.index]: t.key for plan, ids in job.written for t in plan.tasks}

    def by_file_id(match: re.Match) -> str:
        ids = [int(n) for n in match.group(2).split(" -> ")]
        named = " -> ".join(repr(key_of[i]) if i in key_of else f"#{i}" for i in ids)
        return f"{match.group(1)} {named}"

    message = _DB_TASK_IDS.sub(by_file_id, message)
    return f"database refused the file, nothing written: {message}"


def _count_read(job: FileJob) -> None:
    parsed, report = job.parsed, job.report
    report.counts("project").read = 1
    for entity, n in parsed.read.items():
        report.counts(entity).read = n
    if parsed.kind == "document":
        report.counts("article").read = 1
    if parsed.kind == "template":
        report.counts("template").read = 1


# --- writing ---------------------------------------------------------------------------------
def _write(job: FileJob, *, batch_size: int, progress: Progress | None) -> None:
    parsed, report = job.parsed, job.report
    project = project_ensure(name=job.project_name, counts=report.counts("project"))
    if parsed.config is not None:
        project_settings_update(
            project=project,
            key=SETTINGS_KEYS[parsed.kind],
            value=jsonio.plain(parsed.config),
            counts=report.counts("project"),
        )
    elif report.counts("project").created == 0:
        report.counts("project").unchanged = 1
    for plan, tag in zip(job.plans, parsed.tasks.tags if parsed.tasks else [], strict=True):
        _write_tag(job, project, tag, plan, batch_size=batch_size, progress=progress)
    for wf in parsed.workflows:
        job.where = wf.pointer
        _write_n8n(job, project, wf)
    if parsed.document is not None:
        doc = parsed.document
        outcome = sql.upsert_article(
            project_id=project.pk,
            slug=doc.slug,
            title=doc.title,
            content=doc.content,
            content_type=doc.content_type,
            tags=doc.tags,
        )
        report.counts("article").bump(outcome)
    if parsed.template is not None:
        tpl = parsed.template
        outcome = sql.upsert_template(
            name=tpl.name,
            type=tpl.type,
            category=project.name[:100],
            content=tpl.content,
            tags=tpl.tags,
            created_by=f"import_filestore:{project.slug}"[:255],
        )
        report.counts("template").bump(outcome)


def project_ensure(*, name: str, counts=None) -> Project:
    """The project named `name` (ignoring case), created with a free slug when missing."""
    project = Project.objects.select_for_update().filter(name__iexact=name).first()
    if project is not None:
        return project
    base = slugify(name)[:240] or "project"
    slug, n = base, 1
    while Project.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    project = project_create(name=name, slug=slug, description="Imported from the file store.")
    if counts is not None:
        counts.created = 1
    return project


def project_settings_update(
    *,
    project: Project,
    config: dict | None = None,
    key: str = "taskmaster",
    value=None,
    counts=None,
) -> bool:
    """Store a Task Master config (`taskmaster`) or state.json (`taskmaster_state`) in settings."""
    value = config if value is None else value
    if project.settings.get(key) == value:
        if counts is not None and not counts.created:
            counts.unchanged = 1
        return False
    project.settings = {**project.settings, key: value}
    project.save(update_fields=["settings", "updated_at"])
    if counts is not None and not counts.created:
        counts.updated = 1
    return True


def tag_legacy(tag: TagRecord, shape: str) -> dict:
    """Workflow.legacy of a tag: what writes the tag object (and a legacy file's top) back."""
    data: dict = {"source": "taskmaster", "shape": shape, "position": tag.position}
    data["keys"] = tag.keys
    if "metadata" in tag.keys:
        data["metadata"] = tag.metadata
    if tag.extra:
        data["extra"] = tag.extra
    return data


def _tag_description(tag: TagRecord) -> str:
    if isinstance(tag.metadata, dict) and isinstance(tag.metadata.get("description"), str):
        return tag.metadata["description"]
    return ""


def staged_values(task: TaskRecord, plan: TagPlan) -> tuple:
    """(title, description, details, test_strategy, status, priority, legacy JSON) of a task."""
    title, description, details, test_strategy, extras, marker = task.texts()
    legacy = legacy_json(extras, marker, skipped=plan.not_edges.get(id(task)))
    return (title, description, details, test_strategy, task.status, task.priority, legacy)


def task_row(order: int, task: TaskRecord, ids, plan: TagPlan) -> tuple:
    """The staged row of one task: (ord, external_key, parent_id, *staged_values); `ids` holds
    the database id of each record by its index (parents are written first)."""
    parent_id = ids[task.parent.index] if task.parent is not None else None
    return (order, task.key, parent_id, *staged_values(task, plan))


def _write_tag(
    job: FileJob,
    project: Project,
    tag: TagRecord,
    plan: TagPlan,
    *,
    batch_size: int,
    progress: Progress | None,
) -> None:
    report = job.report
    job.where = tag.pointer
    workflow_id, outcome = sql.upsert_workflow(
        project_id=project.pk,
        name=tag.name,
        description=_tag_description(tag),
        legacy_json=jsonio.dumps(tag_legacy(tag, job.parsed.tasks.shape)),
    )
    report.counts("workflow").bump(outcome)
    if workflow_id is None:
        workflow_id = selectors.workflow_get(project=project, name=tag.name).pk

    tasks = report.counts("task")
    total = len(plan.tasks) + len(plan.edges)
    done = 0
    ids = array("q", bytes(8 * len(tag.tasks)))  # database id by record index
    job.written.append((plan, ids))
    for level in plan.levels:  # parents are written (and their ids known) before subtasks
        for start in range(0, len(level), batch_size):
            batch = level[start : start + batch_size]
            job.where = batch[0].pointer
            rows = [task_row(start + i, t, ids, plan) for i, t in enumerate(batch)]
            created, updated = sql.upsert_tasks_batch(workflow_id, rows)
            tasks.created += created
            tasks.updated += updated
            tasks.unchanged += len(batch) - created - updated
            found = selectors.task_ids(workflow_id, [t.key for t in batch])
            for t in batch:
                ids[t.index] = found[t.key]
            done += len(batch)
            if progress:
                progress(f"{tag.name}: tasks", done, total)
    job.where = tag.pointer
    bulk = len(plan.edges) >= ANALYZE_AFTER
    if bulk:
        sql.analyze_tasks()
        sql.index_scans_only(True)

    deps = report.counts("dependency")
    deps.skipped += plan.skipped_count
    if tasks.created < len(plan.tasks):  # the file's tasks get exactly the file's dependencies
        keep = [(ids[a], ids[b]) for a, b in write_order(plan)]
        deps.deleted += sql.sync_dependencies(workflow_id, ids.tolist(), keep)
        del keep
    dep_batch = min(batch_size, DEPENDENCY_BATCH_SIZE)
    for batch in _chunks(((ids[a], ids[b]) for a, b in write_order(plan)), dep_batch):
        created = sql.insert_dependencies_batch(workflow_id, batch)
        deps.created += created
        deps.unchanged += len(batch) - created
        done += len(batch)
        if progress:
            progress(f"{tag.name}: dependencies", done, total)
    if bulk:
        sql.index_scans_only(False)

    if job.prune:
        _, per_model = (
            Task.objects.filter(workflow_id=workflow_id).exclude(pk__in=ids.tolist()).delete()
        )
        tasks.deleted += per_model.get("tasks.Task", 0)
        deps.deleted += per_model.get("tasks.TaskDependency", 0)


def _chunks(items, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- n8n workflows -------------------------------------------------------------------------------
def _n8n_target(project: Project | None, wf: N8nWorkflow, *, lock: bool = False) -> Workflow | None:
    """The workflow an export was imported into before: by its key, else (imports made before
    workflows had keys) an unkeyed n8n workflow of the same name."""
    if project is None:
        return None
    rows = Workflow.objects.filter(project=project)
    if lock:
        rows = rows.select_for_update()
    found = rows.filter(external_key=wf.source_key).first()
    if found is None:
        found = rows.filter(name=wf.name, external_key__isnull=True, legacy__source="n8n").first()
    return found


def _n8n_name(job: FileJob, project: Project | None, wf: N8nWorkflow, current) -> str:
    """The export's name, unless another workflow of the project has it (a warning says so)."""
    wanted = wf.name
    if current is not None and wanted in (current.name, current.legacy.get("wanted")):
        name = current.name
    else:
        label = job.source.path.stem or job.source.path.name
        if wf.pointer:
            label = f"{label} #{int(wf.pointer.strip('/')) + 1}"
        candidates = [wanted, f"{wanted} ({label})"] + [
            f"{wanted} ({label} {n})" for n in range(2, 1000)
        ]
        name = next(c for c in candidates if not _name_taken(job, project, c, current))
    if name != wanted:
        report = job.write_problems.error if job.strict else job.write_problems.warning
        report(
            f"{wf.pointer}/name",
            f"workflow name {wanted!r} is already used by another workflow of project "
            f"{job.project_name!r}: imported as {name!r}",
            entity="workflow",
        )
    job.run.claimed[(job.project_name.lower(), name)] = wf.source_key
    return name


def _name_taken(job: FileJob, project, name: str, current) -> bool:
    claimed = job.run.claimed.get((job.project_name.lower(), name))
    if job.run.dry_run and claimed is not None:
        return True
    if project is None:
        return False
    rows = Workflow.objects.filter(project=project, name=name)
    if current is not None:
        rows = rows.exclude(pk=current.pk)
    return rows.exists()


def _n8n_values(wf: N8nWorkflow, name: str) -> dict:
    legacy = dict(wf.legacy)
    if name != wf.name:
        legacy["wanted"] = wf.name
    return {
        "name": name,
        "definition": jsonio.plain(wf.definition),
        "tags": wf.tags,
        "external_key": wf.source_key,
        "legacy": jsonio.plain(legacy),
    }


def _write_n8n(job: FileJob, project: Project, wf: N8nWorkflow) -> None:
    counts = job.report.counts("workflow")
    current = _n8n_target(project, wf, lock=True)
    name = _n8n_name(job, project, wf, current)
    values = _n8n_values(wf, name)
    if current is None:
        workflow_create(project=project, status="active" if wf.active else "draft", **values)
        counts.created += 1
        return
    changed = workflow_update(workflow=current, **values)
    counts.bump("updated" if changed else "unchanged")


# --- dry run ---------------------------------------------------------------------------------
def _dry_run_counts(job: FileJob) -> None:
    parsed, report = job.parsed, job.report
    project = selectors.project_by_name(job.project_name)
    pc = report.counts("project")
    if project is None:
        pc.created = 1
    elif parsed.config is not None and project.settings.get(
        SETTINGS_KEYS[parsed.kind]
    ) != jsonio.plain(parsed.config):
        pc.updated = 1
    else:
        pc.unchanged = 1
    for plan, tag in zip(job.plans, parsed.tasks.tags if parsed.tasks else [], strict=True):
        _dry_run_tag(job, project, tag, plan)
    for wf in parsed.workflows:
        current = _n8n_target(project, wf)
        name = _n8n_name(job, project, wf, current)
        values = _n8n_values(wf, name)
        wc = report.counts("workflow")
        if current is None:
            wc.created += 1
        else:
            changes = workflow_changes(workflow=current, **values)
            wc.bump("updated" if changes else "unchanged")
    if parsed.document is not None:
        doc = parsed.document
        state = selectors.article_state(project=project, slug=doc.slug)
        report.counts("article").bump(
            "created"
            if state is None
            else "unchanged"
            if state == (doc.title, doc.content, doc.content_type)
            else "updated"
        )
    if parsed.template is not None:
        tpl = parsed.template
        state = selectors.template_state(name=tpl.name, type=tpl.type)
        category = (project.name if project else job.project_name)[:100]
        report.counts("template").bump(
            "created"
            if state is None
            else "unchanged"
            if state == (tpl.content, category)
            else "updated"
        )


def _dry_run_tag(job: FileJob, project: Project | None, tag: TagRecord, plan: TagPlan) -> None:
    report = job.report
    workflow = selectors.workflow_get(project=project, name=tag.name)
    wc = report.counts("workflow")
    legacy = jsonio.plain(tag_legacy(tag, job.parsed.tasks.shape))
    if workflow is None:
        wc.created += 1
    else:
        same = workflow.description == _tag_description(tag) and workflow.legacy == legacy
        wc.bump("unchanged" if same else "updated")
    workflow_id = workflow.pk if workflow else None
    tc = report.counts("task")
    keys = {t.key for t in plan.tasks}
    for start in range(0, len(plan.tasks), DEFAULT_BATCH_SIZE):
        batch = plan.tasks[start : start + DEFAULT_BATCH_SIZE]
        states = selectors.workflow_task_states(workflow_id, [t.key for t in batch])
        for t in batch:
            state = states.get(t.key)
            *values, legacy_text = staged_values(t, plan)
            if state is None:
                tc.created += 1
            elif state == (t.parent_key, *values, json.loads(legacy_text)):
                tc.unchanged += 1
            else:
                tc.updated += 1
    existing = selectors.workflow_dependency_keys(workflow_id)
    dc = report.counts("dependency")
    dc.skipped += plan.skipped_count
    accepted = set(plan.edges)
    for edge in plan.edges:
        dc.bump("unchanged" if edge in existing else "created")
    dc.deleted += sum(1 for e in existing if e[0] in keys and e not in accepted)
    if job.prune:
        all_keys = selectors.workflow_task_ids(workflow_id) if workflow_id else {}
        tc.deleted += sum(1 for k in all_keys if k not in keys)
        dc.deleted += sum(1 for a, _ in existing if a not in keys)
