"""`field__any=[…]`: one array parameter, the same rows as `__in`."""

import pytest

from apps.projects.models import Project
from tests.factories.domain import ProjectFactory

pytestmark = pytest.mark.django_db


def test_any_matches_the_listed_rows_with_one_parameter():
    wanted = [ProjectFactory().pk for _ in range(3)]
    ProjectFactory()
    qs = Project.objects.filter(pk__any=wanted)
    sql, params = qs.query.sql_with_params()
    assert "= ANY(%s)" in sql and params == (wanted,)
    assert sorted(qs.values_list("pk", flat=True)) == sorted(wanted)
    assert set(Project.objects.filter(pk__any=[]).values_list("pk", flat=True)) == set()
    assert Project.objects.filter(name__any=["no such project"]).count() == 0
