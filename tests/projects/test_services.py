import pytest
from django.core.exceptions import ValidationError

from apps.projects.models import Project
from apps.projects.services import project_create, project_update

pytestmark = pytest.mark.django_db


def test_project_create_stores_fields_and_slug():
    project = project_create(
        name="AI Code Generator",
        repository_url="https://github.com/user/ai-codegen",
        github_repo_id=123456789,
        linear_team_id="team_abc123",
        settings={"model": "main"},
    )
    project.refresh_from_db()
    assert project.slug == "ai-code-generator"
    assert project.settings == {"model": "main"}
    assert project.status == "active"


def test_project_create_refuses_a_name_differing_only_in_case():
    project_create(name="Apollo")
    with pytest.raises(ValidationError, match="already exists"):
        project_create(name="APOLLO", slug="apollo-2")
    assert Project.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "repository_url": "not a url"}, "repository_url"),
        ({"name": "X", "status": "sleeping"}, "status"),
    ],
)
def test_project_create_bad_input_names_the_field_and_writes_nothing(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        project_create(**kwargs)
    assert not Project.objects.exists()


def test_project_update_changes_only_known_fields():
    project = project_create(name="Apollo")
    project_update(project=project, description="moon")
    assert Project.objects.get().description == "moon"
    with pytest.raises(TypeError, match="unknown fields"):
        project_update(project=project, slugg="x")
