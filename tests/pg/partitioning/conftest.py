import pytest

# Partition DDL is the owner's (apps/pg/partitioning/services.py runs on the owner connection),
# which cannot see a test transaction's rows: those tests commit (transaction=True) and this
# fixture puts the partitions back as they were.
PARTITION_DDL = [
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
    pytest.mark.usefixtures("restore_partitions"),
]
