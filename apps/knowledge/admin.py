from django.contrib import admin
from django.db.models import Q

from apps.core.admin import BigTableAdmin
from apps.core.validation import parse_id

from .models import Article
from .search import highlighted
from .selectors import article_search, article_snippets


@admin.register(Article)
class ArticleAdmin(BigTableAdmin):
    project_lookup = "project_id"

    def filter_by_projects(self, queryset, project_ids):
        # Articles of no project are the shared knowledge base: every member reads them.
        return queryset.filter(Q(project_id__in=project_ids) | Q(project__isnull=True))

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
    search_help_text = (
        'Full-text search: words match as prefixes (migr → migration); "phrases", -excluded '
        "and or as on the web. The 1000 best matches by relevance are ranked by text match."
    )
    search_ranks_results = True
    raw_id_fields = ("project",)
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("access_count", "last_accessed_at", "created_at", "updated_at")
    exclude = ("search_vector",)
    ordering = ("-relevance_score", "title")

    def get_list_display(self, request):
        if self._text_search(request):
            return ("title", "match", *self.list_display[1:])
        return self.list_display

    def get_search_results(self, request, queryset, search_term):
        if not self._text_search(request, search_term):  # nothing to search, or an id lookup
            return super().get_search_results(request, queryset, search_term)
        return article_search(query=search_term, queryset=queryset), False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        if self._text_search(request):
            rows = list(changelist.result_list)  # the page's rows only: one headline query
            snippets = article_snippets(query=changelist.query, article_ids=[r.pk for r in rows])
            for row in rows:
                row.match_snippet = snippets.get(row.pk, "")
        return changelist

    @admin.display(description="match")
    def match(self, obj):
        return highlighted(getattr(obj, "match_snippet", ""))

    @staticmethod
    def _text_search(request, term=None) -> bool:
        term = (request.GET.get("q", "") if term is None else term).strip()
        return bool(term) and parse_id(term) is None
