from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0009_archive_hold"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="matviewrefresh",
            options={"ordering": ["-started_at"], "verbose_name_plural": "matview refreshes"},
        ),
    ]
