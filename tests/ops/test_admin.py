"""Every ops admin page (logs, views, archive) renders read-only, with and without rows."""

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.ops import services

from .conftest import make_workflow

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("clean_archive"),
]

OPS_MODELS = [m for m in admin.site._registry if m._meta.app_label == "ops"]


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_all_ops_models_are_registered():
    names = {m._meta.model_name for m in OPS_MODELS}
    assert {
        "heartbeat",
        "matviewrefresh",
        "maintenancerun",
        "archiverun",
        "workflowsummary",
        "weeklytaskthroughput",
        "templateeffectiveness",
        "workflowextractionsummary",
        "projectdailystats",
        "formcompletionstats",
        "archivedworkflow",
        "archivedtask",
        "archivedtaskdependency",
    } <= names


def test_changelists_render_and_are_read_only(staff_client):
    workflow = make_workflow(age_days=400, tasks=2)
    services.archive_run(older_than_days=365, apply=True)
    services.heartbeat_record()
    services.maintenance_run(apply=False, steps=("vacuum_report",))
    for name in ("workflow_summary", "project_daily_stats"):
        services.matview_refresh(name=name)
    for model in OPS_MODELS:
        url = reverse(f"admin:ops_{model._meta.model_name}_changelist")
        response = staff_client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert staff_client.get(url + "?q=1").status_code == 200
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(None)
        assert not model_admin.has_change_permission(None)
        assert not model_admin.has_delete_permission(None)
    archived = reverse("admin:ops_archivedworkflow_changelist")
    assert workflow.name in staff_client.get(archived).content.decode()
