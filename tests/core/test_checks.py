import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connections

# Dropping or disabling a trigger is DDL: the owner's (the app cannot), so the check looks at the
# owner's connection, which sees its own uncommitted change.
pytestmark = pytest.mark.django_db(databases=["default", "owner"])


def test_check_passes_when_every_trigger_is_installed():
    call_command("check", "--database", "default")


def test_check_fails_when_a_declared_trigger_is_missing():
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'tasks_task'::regclass"
            " AND tgname LIKE 'pgtrigger_task_status_transition_%'"
        )
        (name,) = cursor.fetchone()
        cursor.execute(f'DROP TRIGGER "{name}" ON tasks_task')
    with pytest.raises(
        SystemCheckError, match=r"tasks\.Task:task_status_transition is uninstalled"
    ):
        call_command("check", "--database", "owner")


def test_check_fails_when_a_trigger_is_disabled():
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'tasks_taskdependency'::regclass AND NOT tgisinternal"
        )
        (name,) = cursor.fetchone()
        cursor.execute(f'ALTER TABLE tasks_taskdependency DISABLE TRIGGER "{name}"')
    with pytest.raises(SystemCheckError, match="disabled"):
        call_command("check", "--database", "owner")
