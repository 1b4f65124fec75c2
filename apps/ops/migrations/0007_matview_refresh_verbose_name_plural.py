from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0006_beat_schedule_dbhealth"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="matviewrefresh",
            options={"ordering": ["-started_at"], "verbose_name_plural": "matview refreshes"},
        ),
    ]
