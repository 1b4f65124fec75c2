from django.contrib.postgres.operations import BtreeGinExtension, CreateExtension, TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        TrigramExtension(),
        BtreeGinExtension(),
        # Needs shared_preload_libraries to collect; creating it is harmless without.
        CreateExtension("pg_stat_statements"),
    ]
