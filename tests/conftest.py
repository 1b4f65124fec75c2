import pytest
from django.core.management import call_command


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Partitions relative to now (the migrations create only the default partitions)."""
    with django_db_blocker.unblock():
        call_command("pgpartition", "--yes", "--skip-delete", verbosity=0)
