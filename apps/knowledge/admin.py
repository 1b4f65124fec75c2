from django.contrib import admin

from apps.core.admin import BigTableAdmin
from apps.core.validation import parse_id

from .models import Article
from .selectors import article_search


@admin.register(Article)
class ArticleAdmin(BigTableAdmin):
    list_display = (
        "title",
        "project",
        "content_type",
        "relevance_score",
        "access_count",
        "updated_at",
    )
    list_select_related = ("project",)
    list_filter = ("content_type",)
    # The search box runs full-text search on the generated tsvector (GIN), ranked by ts_rank.
    search_fields = ("title",)
    search_help_text = 'Full-text search (websearch syntax: words, "phrases", -excluded).'
    raw_id_fields = ("project",)
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("access_count", "last_accessed_at", "created_at", "updated_at")
    exclude = ("search_vector",)
    ordering = ("-relevance_score", "title")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or parse_id(term) is not None:  # the base: nothing to search, or an id lookup
            return super().get_search_results(request, queryset, search_term)
        return article_search(query=term, queryset=queryset), False
