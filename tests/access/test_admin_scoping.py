"""The admin fence: staff who are members of projects see and change only those projects' rows,
as their role there allows."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from apps.access.models import ProjectRole
from apps.access.services import membership_set
from tests.factories.domain import ProjectFactory, TaskFactory, WorkflowFactory, task_admin_form

pytestmark = pytest.mark.django_db

MODELS = ("project", "workflow", "task", "article", "event")


def _staff(name: str, *codenames: str) -> User:
    user = User.objects.create_user(name, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def world():
    ours, theirs = ProjectFactory(name="Ours"), ProjectFactory(name="Theirs")
    our_task = TaskFactory(workflow=WorkflowFactory(project=ours), title="our-task")
    their_task = TaskFactory(workflow=WorkflowFactory(project=theirs), title="their-task")
    return {"ours": ours, "theirs": theirs, "our_task": our_task, "their_task": their_task}


def _client(client, user):
    client.force_login(user)
    return client


ALL_TASK_PERMS = ("view_task", "change_task", "add_task", "delete_task", "view_workflow")


@pytest.mark.parametrize(
    "role, can_change, can_delete",
    [
        (ProjectRole.VIEWER, False, False),
        (ProjectRole.EDITOR, True, False),
        (ProjectRole.MAINTAINER, True, True),
    ],
)
def test_a_member_sees_only_their_projects_rows_and_acts_as_their_role(
    client, world, role, can_change, can_delete
):
    user = _staff("member", *ALL_TASK_PERMS)
    membership_set(project_id=world["ours"].pk, user_id=user.pk, role=role)
    c = _client(client, user)

    listing = c.get(reverse("admin:tasks_task_changelist"))
    assert listing.status_code == 200
    assert b"our-task" in listing.content and b"their-task" not in listing.content

    # Another project's row by its URL: "does not exist" (a redirect), never its page.
    foreign = c.get(reverse("admin:tasks_task_change", args=[world["their_task"].pk]))
    assert foreign.status_code == 302
    ours = c.get(reverse("admin:tasks_task_change", args=[world["our_task"].pk]))
    assert ours.status_code == 200
    assert (b'name="_save"' in ours.content) is can_change

    delete = c.get(reverse("admin:tasks_task_delete", args=[world["our_task"].pk]))
    assert (delete.status_code == 200) is can_delete


def test_search_autocomplete_and_choices_stay_inside_the_projects(client, world):
    user = _staff("editor", *ALL_TASK_PERMS)
    membership_set(project_id=world["ours"].pk, user_id=user.pk, role=ProjectRole.EDITOR)
    c = _client(client, user)

    found = c.get(reverse("admin:tasks_task_changelist"), {"q": "task"})
    assert b"our-task" in found.content and b"their-task" not in found.content
    by_id = c.get(reverse("admin:tasks_task_changelist"), {"q": str(world["their_task"].pk)})
    assert b"their-task" not in by_id.content

    popup = c.get(
        reverse("admin:workflows_workflow_changelist"), {"_popup": "1", "_to_field": "id"}
    )
    assert popup.status_code == 200
    assert str(world["theirs"]).encode() not in popup.content

    # Posting the other project's workflow is a form error naming the field; nothing is written.
    form = task_admin_form(workflow=world["their_task"].workflow_id, title="smuggled")
    response = c.post(reverse("admin:tasks_task_add"), form)
    assert response.status_code == 200
    assert "workflow" in response.context["adminform"].form.errors
    assert not world["their_task"].workflow.tasks.filter(title="smuggled").exists()


def test_bulk_actions_reach_only_the_projects_rows(client, world):
    user = _staff("maintainer", *ALL_TASK_PERMS)
    membership_set(project_id=world["ours"].pk, user_id=user.pk, role=ProjectRole.MAINTAINER)
    c = _client(client, user)
    c.post(
        reverse("admin:tasks_task_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [world["our_task"].pk, world["their_task"].pk],
            "post": "yes",
        },
    )
    world["their_task"].refresh_from_db()  # still there
    assert not type(world["our_task"]).objects.filter(pk=world["our_task"].pk).exists()


def test_staff_with_no_membership_see_no_project_and_operators_see_all(client, world):
    loner = _staff("loner", "view_project")
    listing = _client(client, loner).get(reverse("admin:projects_project_changelist"))
    assert b"Ours" not in listing.content and b"Theirs" not in listing.content

    operator = _staff("operator", "view_project")
    operator.groups.add(Group.objects.get_or_create(name="Database operators")[0])
    client.logout()
    listing = _client(client, operator).get(reverse("admin:projects_project_changelist"))
    assert b"Ours" in listing.content and b"Theirs" in listing.content


def test_the_audit_log_is_hidden_from_scoped_staff(client, world):
    user = _staff("member", "view_auditeventrow", "view_task")
    membership_set(project_id=world["ours"].pk, user_id=user.pk, role=ProjectRole.VIEWER)
    response = _client(client, user).get(reverse("admin:audit_auditeventrow_changelist"))
    assert response.status_code == 403


def test_only_a_projects_maintainers_manage_its_members(client, world):
    perms = ("view_projectmembership", "add_projectmembership", "change_projectmembership")
    editor = _staff("editor", *perms, "view_project")
    membership_set(project_id=world["ours"].pk, user_id=editor.pk, role=ProjectRole.EDITOR)
    c = _client(client, editor)
    assert c.get(reverse("admin:access_projectmembership_add")).status_code == 403
    response = c.post(
        reverse("admin:access_projectmembership_add"),
        {"project": world["ours"].pk, "user": editor.pk, "role": "maintainer"},
    )
    assert response.status_code == 403
    assert editor.project_memberships.get().role == ProjectRole.EDITOR

    maintainer = _staff("maintainer", *perms, "view_project")
    membership_set(project_id=world["ours"].pk, user_id=maintainer.pk, role=ProjectRole.MAINTAINER)
    client.logout()
    c = _client(client, maintainer)
    # Into another project: the project is no valid choice, nothing is written.
    response = c.post(
        reverse("admin:access_projectmembership_add"),
        {"project": world["theirs"].pk, "user": maintainer.pk, "role": "maintainer"},
    )
    assert response.status_code == 200 and "project" in response.context["adminform"].form.errors
    assert not maintainer.project_memberships.filter(project=world["theirs"]).exists()


def test_a_viewers_bulk_action_changes_nothing(client, world):
    user = _staff("viewer", *ALL_TASK_PERMS)
    membership_set(project_id=world["ours"].pk, user_id=user.pk, role=ProjectRole.VIEWER)
    before = world["our_task"].priority
    _client(client, user).post(
        reverse("admin:tasks_task_changelist"),
        {
            "action": "change_priority",
            "priority": "1" if before != 1 else "2",
            "_selected_action": [world["our_task"].pk, world["their_task"].pk],
        },
    )
    world["our_task"].refresh_from_db()
    assert world["our_task"].priority == before


def test_models_of_no_project_are_hidden_from_scoped_staff_unless_shared(client, world):
    user = _staff("member", "view_formresponserow", "view_template", "view_user", "change_user")
    membership_set(project_id=world["ours"].pk, user_id=user.pk, role=ProjectRole.MAINTAINER)
    c = _client(client, user)
    assert c.get(reverse("admin:runs_formresponserow_changelist")).status_code == 403
    assert c.get(reverse("admin:auth_user_changelist")).status_code == 403  # no way into a group
    assert c.get(reverse("admin:blueprints_template_changelist")).status_code == 200
    assert c.get(reverse("admin:projects_project_add")).status_code == 403  # not a 500
    assert c.get("/admin/dbhealth/databasehealth/overview/").status_code == 403
