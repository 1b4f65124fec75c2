from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models

from apps.audit.triggers import audit_triggers
from apps.core.models import TimeStampedModel, choices_check, range_check
from apps.pg import triggers

SEARCH_CONFIG = "english"


class ContentType(models.TextChoices):
    MARKDOWN = "markdown", "Markdown"
    TEXT = "text", "Plain text"
    JSON = "json", "JSON"
    YAML = "yaml", "YAML"
    CODE = "code", "Code"


class Article(TimeStampedModel):
    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=255)
    content = models.TextField(blank=True, default="")
    content_type = models.CharField(
        max_length=20, choices=ContentType, default=ContentType.MARKDOWN
    )
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    # Indexed by the unique (project, slug) constraint, which leads with it.
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="articles",
        db_index=False,
    )
    relevance_score = models.FloatField(default=0.0)
    access_count = models.PositiveIntegerField(default=0)
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    # Maintained by PostgreSQL itself: title weighs A, content B.
    search_vector = models.GeneratedField(
        expression=SearchVector("title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("content", weight="B", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-relevance_score", "title"]
        triggers = [triggers.set_updated_at(), *audit_triggers()]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "slug"],
                name="article_slug_unique_in_project",
                nulls_distinct=False,
            ),
            choices_check("content_type", ContentType, "article_content_type_valid"),
            range_check("relevance_score", 0, 1, "article_relevance_0_1"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="article_search_gin"),
            GinIndex(fields=["tags"], name="article_tags_gin"),
            # The list's default order (and phase one of the ranked search): an index walk.
            models.Index(
                fields=["-relevance_score", "title", "id"], name="article_default_order_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title
