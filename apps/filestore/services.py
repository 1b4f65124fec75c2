"""Import from the legacy file store, and export back to a tagged tasks.json.

Phases: discover → parse/validate (parsing.py, pure) → plan (planning.py; reads the workflow's
existing dependencies so cycles through them are refused too) → write, one transaction per file, in
batched upserts (sql.py). With --strict every warning is an error and the whole run is all or nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DatabaseError, transaction
from django.utils.text import slugify

from apps.core.db import retry_on_serialization_failure
from apps.filestore import selectors, sql
from apps.filestore.discovery import Source, discover
from apps.filestore.parsing import (
    MARKER,
    PRIORITY_EXPORT,
    STATUS_EXPORT,
    ParsedFile,
    TagRecord,
    TaskRecord,
    parse_file,
)
from apps.filestore.planning import TagPlan, insertion_order, plan_tag
from apps.filestore.problems import Problems
from apps.filestore.report import FileReport, ImportReport
from apps.projects.models import Project
from apps.tasks.models import Task

Progress = Callable[[str, int, int], None]
DEFAULT_BATCH_SIZE = 5000
# The database's per-row cycle check walks the edges of the current batch (see
# planning.insertion_order), so its cost grows with this size; 5000 measured best (40k tasks).
DEPENDENCY_BATCH_SIZE = 5000
# From this many dependencies on, statistics are refreshed and index scans forced for them.
ANALYZE_AFTER = 2000
KIND_ORDER = {"config": 0, "tasks": 1, "n8n": 2, "document": 3, "template": 4}


@dataclass
class FileJob:
    source: Source
    project_name: str
    parsed: ParsedFile
    report: FileReport
    prune: bool = False
    plans: list[TagPlan] = field(default_factory=list)


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
    started = time.perf_counter()
    report = ImportReport(dry_run=dry_run, strict=strict, prune=prune)
    jobs: list[FileJob] = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            file_report = FileReport(str(path), "missing", status="failed")
            problems = Problems(str(path))
            problems.error("", "no such file or directory")
            file_report.attach(problems.items)
            report.files.append(file_report)
            continue
        target = discover(path)
        if not target.sources:
            file_report = FileReport(str(path), "empty", status="failed")
            problems = Problems(str(path))
            problems.error("", "nothing to import: no tasks, config, docs, templates or JSON files")
            file_report.attach(problems.items)
            report.files.append(file_report)
            continue
        name = project_name or target.project_hint
        for source in sorted(target.sources, key=lambda s: KIND_ORDER.get(s.role or "n8n", 2)):
            jobs.append(_prepare(source, name, strict=strict, prune=prune))
    report.files.extend(job.report for job in jobs)

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
    report.duration_s = time.perf_counter() - started
    return report


class _StrictAbort(Exception):
    pass


def _prepare(source: Source, project_name: str, *, strict: bool, prune: bool) -> FileJob:
    started = time.perf_counter()
    parsed = parse_file(source.path, source.role)
    report = FileReport(str(source.path), parsed.kind, project=project_name)
    job = FileJob(source, project_name, parsed, report, prune=prune)
    if strict:
        # All or nothing: every file is planned (and every warning known) before any write.
        _plan(job)
        parsed.problems.promote_warnings()
    report.duration_s = time.perf_counter() - started
    return job


def _plan(job: FileJob) -> None:
    """Resolve dependencies against the current database (call inside the file's transaction)."""
    parsed = job.parsed
    job.plans = []
    if not parsed.ok or parsed.tasks is None:
        return
    project = selectors.project_by_name(job.project_name)
    for tag in parsed.tasks.tags:
        workflow = selectors.workflow_get(project=project, name=tag.name)
        existing = (
            set() if job.prune else selectors.workflow_dependency_keys(workflow and workflow.pk)
        )
        job.plans.append(plan_tag(tag, parsed.problems, existing_edges=existing))


def _finish(job: FileJob, *, started_at: float | None) -> None:
    if not job.report.problems:
        job.report.attach(job.parsed.problems.items)
    if job.parsed.problems.errors and job.report.status != "not_written":
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
            if not job.plans:
                _plan(job)
            _plan_counts(job)
            report.status = "planned"
        else:
            planned, mark = bool(job.plans), len(parsed.problems.items)

            @retry_on_serialization_failure  # a refused attempt (40001) re-runs, planned afresh
            def write_file() -> None:
                del parsed.problems.items[mark:]
                for counts in report.entities.values():
                    counts.created = counts.updated = counts.unchanged = 0
                    counts.deleted = counts.skipped = 0
                if not planned:
                    _plan(job)
                sql.create_stages()
                sql.pgtrigger_fast_path()
                _write(job, batch_size=batch_size, progress=progress)

            write_file()
            changed = any(c.created or c.updated or c.deleted for c in report.entities.values())
            report.status = "imported" if changed else "unchanged"
    except DatabaseError as exc:
        for counts in report.entities.values():
            counts.created = counts.updated = counts.unchanged = counts.deleted = 0
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        parsed.problems.error("", f"database refused the file, nothing written: {message}")
    _finish(job, started_at=started)


def _count_read(job: FileJob) -> None:
    parsed, report = job.parsed, job.report
    report.counts("project").read = 1
    if parsed.tasks is not None:
        for tag in parsed.tasks.tags:
            report.counts("workflow").read += 1
            report.counts("task").read += tag.read
            report.counts("dependency").read += sum(len(t.dependencies) for t in tag.tasks)
    report.counts("workflow").read += len(parsed.workflows)
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
            project=project, config=parsed.config, counts=report.counts("project")
        )
    if parsed.kind != "config" and report.counts("project").created == 0:
        report.counts("project").unchanged = 1
    for plan, tag in zip(job.plans, parsed.tasks.tags if parsed.tasks else [], strict=True):
        _write_tag(job, project, tag, plan, batch_size=batch_size, progress=progress)
    for wf in parsed.workflows:
        _, outcome = sql.upsert_workflow(
            project_id=project.pk,
            name=wf.name,
            description="",
            filestore={"n8n": wf.extra},
            definition=wf.definition,
            node_count=wf.node_count,
            tags=wf.tags,
            status="active" if wf.active else "draft",
        )
        report.counts("workflow").bump(outcome)
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
    project = Project.objects.create(
        name=name, slug=slug, description="Imported from the file store."
    )
    if counts is not None:
        counts.created = 1
    return project


def project_settings_update(*, project: Project, config: dict, counts=None) -> bool:
    if project.settings.get("taskmaster") == config:
        if counts is not None and not counts.created:
            counts.unchanged = 1
        return False
    project.settings = {**project.settings, "taskmaster": config}
    project.save(update_fields=["settings", "updated_at"])
    if counts is not None and not counts.created:
        counts.updated = 1
    return True


def _task_row(index: int, t: TaskRecord, ids: dict[str, int]) -> tuple:
    return (
        index,
        t.key,
        ids.get(t.parent_key, 0) if t.parent_key is not None else None,
        t.title,
        t.description,
        t.details,
        t.test_strategy,
        t.status,
        t.priority,
        t.legacy,
    )


def _tag_filestore(tag: TagRecord, shape: str) -> dict:
    data = {"shape": shape}
    if tag.metadata is not None:
        data["metadata"] = tag.metadata
    return data


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
    description = ""
    if tag.metadata and isinstance(tag.metadata.get("description"), str):
        description = tag.metadata["description"]
    workflow_id, outcome = sql.upsert_workflow(
        project_id=project.pk,
        name=tag.name,
        description=description,
        filestore=_tag_filestore(tag, job.parsed.tasks.shape),
    )
    report.counts("workflow").bump(outcome)
    if workflow_id is None:
        workflow_id = selectors.workflow_get(project=project, name=tag.name).pk

    tasks = report.counts("task")
    total = len(plan.tasks) + len(plan.edges)
    done = 0
    top = [t for t in plan.tasks if t.parent_key is None]
    subs = [t for t in plan.tasks if t.parent_key is not None]
    ids: dict[str, int] = {}
    for group in (top, subs):  # parents are written (and their ids known) before subtasks
        for start in range(0, len(group), batch_size):
            batch = group[start : start + batch_size]
            created, updated = sql.upsert_tasks_batch(
                workflow_id, [_task_row(start + i, t, ids) for i, t in enumerate(batch)]
            )
            tasks.created += created
            tasks.updated += updated
            tasks.unchanged += len(batch) - created - updated
            done += len(batch)
            if progress:
                progress(f"{tag.name}: tasks", done, total)
        ids = selectors.workflow_task_ids(workflow_id)
    bulk = len(plan.edges) >= ANALYZE_AFTER
    if bulk:
        sql.analyze_tasks()
        sql.index_scans_only(True)

    deps = report.counts("dependency")
    deps.skipped += len(plan.skipped_edges)
    edges = [(ids[a], ids[b]) for a, b in insertion_order(plan.edges)]
    if job.prune:  # before inserting: an edge reversed in the file must not meet its old self
        deps.deleted += sql.prune_dependencies(workflow_id, edges)
    dep_batch = min(batch_size, DEPENDENCY_BATCH_SIZE)
    for start in range(0, len(edges), dep_batch):
        batch = edges[start : start + dep_batch]
        created = sql.insert_dependencies_batch(workflow_id, batch)
        deps.created += created
        deps.unchanged += len(batch) - created
        done += len(batch)
        if progress:
            progress(f"{tag.name}: dependencies", done, total)
    if bulk:
        sql.index_scans_only(False)

    if job.prune:
        keys = [t.key for t in plan.tasks]
        _, per_model = (
            Task.objects.filter(workflow_id=workflow_id).exclude(external_key__in=keys).delete()
        )
        tasks.deleted += per_model.get("tasks.Task", 0)
        deps.deleted += per_model.get("tasks.TaskDependency", 0)


# --- dry run ---------------------------------------------------------------------------------
def _plan_counts(job: FileJob) -> None:
    parsed, report = job.parsed, job.report
    project = selectors.project_by_name(job.project_name)
    pc = report.counts("project")
    if project is None:
        pc.created = 1
    elif parsed.config is not None and project.settings.get("taskmaster") != parsed.config:
        pc.updated = 1
    else:
        pc.unchanged = 1
    for plan, tag in zip(job.plans, parsed.tasks.tags if parsed.tasks else [], strict=True):
        workflow = selectors.workflow_get(project=project, name=tag.name)
        wc = report.counts("workflow")
        if workflow is None:
            wc.created += 1
        else:
            description = (tag.metadata or {}).get("description", "")
            same = workflow.description == (
                description if isinstance(description, str) else ""
            ) and workflow.metrics.get("filestore") == _tag_filestore(tag, parsed.tasks.shape)
            wc.bump("unchanged" if same else "updated")
        states = selectors.workflow_task_states(workflow and workflow.pk)
        tc = report.counts("task")
        for t in plan.tasks:
            state = states.get(t.key)
            if state is None:
                tc.created += 1
            elif state == (t.parent_key, *_task_row(0, t, {"": 0})[3:]):
                tc.unchanged += 1
            else:
                tc.updated += 1
        existing = selectors.workflow_dependency_keys(workflow and workflow.pk)
        dc = report.counts("dependency")
        dc.skipped += len(plan.skipped_edges)
        for edge in plan.edges:
            dc.bump("unchanged" if edge in existing else "created")
        if job.prune:
            keys = {t.key for t in plan.tasks}
            tc.deleted += sum(1 for k in states if k not in keys)
            kept = set(plan.edges)
            dc.deleted += sum(1 for e in existing if e not in kept)
    for wf in parsed.workflows:
        workflow = selectors.workflow_get(project=project, name=wf.name)
        wc = report.counts("workflow")
        if workflow is None:
            wc.created += 1
        else:
            same = (
                workflow.definition == wf.definition
                and workflow.node_count == wf.node_count
                and workflow.tags == wf.tags
                and workflow.metrics.get("filestore") == {"n8n": wf.extra}
            )
            wc.bump("unchanged" if same else "updated")
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


# --- export ----------------------------------------------------------------------------------
def tasks_export(*, project: Project, workflow: str | None = None) -> dict:
    """A tagged tasks.json document of the project's workflows that have tasks (or came from tags)."""
    document: dict = {}
    for wf in selectors.export_workflows(project=project, workflow=workflow):
        filestore = wf.metrics.get("filestore") or {}
        rows = selectors.export_tasks_of(wf.pk)
        if not rows and "shape" not in filestore and workflow is None:
            continue  # an n8n workflow, not a task list
        document[wf.name] = _export_tag(
            rows, selectors.export_dependencies_of([r["id"] for r in rows]), filestore
        )
    return document


def _export_tag(rows: list[dict], deps: list[tuple[int, int]], filestore: dict) -> dict:
    by_id = {r["id"]: r for r in rows}
    key_of = {r["id"]: r["external_key"] or f"db-{r['id']}" for r in rows}
    deps_of: dict[int, list[int]] = {}
    for task_id, depends_on_id in deps:
        deps_of.setdefault(task_id, []).append(depends_on_id)
    children: dict[int, list[dict]] = {}
    for r in rows:
        if r["parent_id"] is not None and r["parent_id"] in by_id:
            children.setdefault(r["parent_id"], []).append(r)

    def dep_value(row: dict, target_id: int):
        target = key_of[target_id]
        parent_id = row["parent_id"]
        if parent_id is not None and by_id.get(target_id, {}).get("parent_id") == parent_id:
            last = target.rsplit(".", 1)[-1]
            return int(last) if last.isdigit() else target
        return int(target) if target.isdigit() else target

    def render(row: dict, parent: dict | None) -> dict:
        legacy = dict(row["legacy"] or {})
        marker = legacy.pop(MARKER, {})
        absent = set(marker.get("absent", ()))
        nulls = set(marker.get("null", ()))
        key = key_of[row["id"]]
        own = key.rsplit(".", 1)[-1] if parent is not None else key
        out: dict = {"id": marker["id"] if "id" in marker else (int(own) if own.isdigit() else own)}
        values = {
            "title": row["title"],
            "description": row["description"],
            "details": row["details"],
            "testStrategy": row["test_strategy"],
            "status": marker.get("status", STATUS_EXPORT.get(row["status"], row["status"])),
            "priority": marker.get(
                "priority", PRIORITY_EXPORT.get(row["priority"], row["priority"])
            ),
            "dependencies": [dep_value(row, d) for d in deps_of.get(row["id"], [])],
        }
        if parent is None:
            values["subtasks"] = [render(c, row) for c in children.get(row["id"], [])]
        for name, value in values.items():
            if name in nulls and value in ("", [], "pending", "medium"):
                out[name] = None
            elif name in absent and value in ("", [], "pending", "medium"):
                continue
            else:
                out[name] = value
        out.update(legacy)
        return out

    tag: dict = {"tasks": [render(r, None) for r in rows if r["parent_id"] is None]}
    if "metadata" in filestore:
        tag["metadata"] = filestore["metadata"]
    return tag
