import pytest
from django.db import connections

# Partition DDL is the owner's (apps/events/partition_services.py runs on the owner connection),
# which cannot see a test transaction's rows: those tests commit (transaction=True) and this
# fixture puts the partitions back as they were.
PARTITION_DDL = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("restore_partitions"),
]


def _snapshot() -> tuple[dict[str, set[str]], set[str]]:
    from apps.events import partitions

    tables = {
        config.model._meta.db_table: {
            p.name for p in partitions.partition_list(config.model._meta.db_table, "owner")
        }
        for config in partitions.policy_list()
    }
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'archive' AND c.relkind IN ('r', 'p')"
        )
        archived = {row[0] for row in cursor.fetchall()}
    return tables, archived


@pytest.fixture
def restore_partitions(django_db_blocker):
    from apps.events import partition_services

    with django_db_blocker.unblock():
        tables, archived = _snapshot()
    yield
    with django_db_blocker.unblock():
        now_tables, now_archived = _snapshot()
        with connections["owner"].cursor() as cursor:
            for table, names in now_tables.items():
                for extra in sorted(names - tables[table]):
                    cursor.execute(f'DROP TABLE "{extra}"')
            for extra in sorted(now_archived - archived):
                cursor.execute(f'DROP TABLE archive."{extra}"')
        partition_services.partitions_create(apply=True, move_default_rows=True, using="owner")
