"""The knowledge base's default order (relevance_score DESC, title) as an index: each list page,
and phase one of the ranked search, read 50 (or 1000) index entries instead of sorting every
article (docs/knowledge.md). Built without blocking writes."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("knowledge", "0003_article_audit_insert_article_audit_update_and_more")]

    operations = [
        AddIndexConcurrently(
            model_name="article",
            index=models.Index(
                fields=["-relevance_score", "title", "id"], name="article_default_order_idx"
            ),
        ),
    ]
