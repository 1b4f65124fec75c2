"""The capture triggers and the trigger templates take their table names from `_meta`."""

import pgtrigger
from django.apps import apps

from apps.audit.models import AuditEvent
from apps.audit.triggers import audit_triggers
from apps.pg.triggers import ModelFunc
from apps.projects.models import Project
from apps.tasks.models import Task, TaskDependency
from apps.workflows.models import Workflow


def _func(model, name: str) -> str:
    [trigger] = [t for t in model._meta.triggers if t.name == name]
    return trigger.render_func(model)


def test_audit_triggers_name_the_declaring_table_and_the_audit_table():
    for model in (Task, TaskDependency, Project, Workflow):
        for name in ("audit_insert", "audit_update", "audit_delete"):
            sql = _func(model, name)
            assert f"INSERT INTO {AuditEvent._meta.db_table} (" in sql
            assert f"SELECT '{model._meta.db_table}', " in sql


def test_one_definition_serves_every_model():
    [insert, *_] = audit_triggers()
    assert "'projects_project'" in insert.render_func(Project)
    assert "'tasks_task'" in insert.render_func(Task)


def test_model_func_renders_other_models_tables():
    func = ModelFunc(
        "UPDATE {tables[workflows.Workflow]} SET x = 1 WHERE id = NEW.{columns.workflow}"
    )
    rendered = pgtrigger.Trigger(
        name="t", when=pgtrigger.After, operation=pgtrigger.Insert, func=func
    ).render_func(Task)
    assert rendered == f"UPDATE {Workflow._meta.db_table} SET x = 1 WHERE id = NEW.workflow_id"


def test_rule_bodies_hold_no_unrendered_placeholders():
    for model in (Task, TaskDependency, Workflow):
        for trigger in model._meta.triggers:
            sql = trigger.render_func(model)
            assert "{tables" not in sql and "tables[" not in sql, (model, trigger.name)
    assert "UPDATE workflows_workflow w SET" in _func(Task, "workflow_rollup_insert")
    assert apps.get_model("tasks", "DependencyGraph")._meta.db_table in _func(
        TaskDependency, "no_dependency_cycles"
    )
