"""Every big changelist, ours vs a stock ModelAdmin with the same columns, filters and search.

Both admins are served by the same process through Django's test client (full request: count,
rows, template). The stock side is `admin.ModelAdmin` on its own AdminSite with the same
list_display, list_filter, search_fields, ordering, list_select_related and list_per_page, and
Django's defaults for the rest (COUNT(*), full result count, icontains search, every column
sortable, OFFSET pages). Cases: first page, a deep numbered page, a very deep page (stock:
OFFSET; ours: the keyset "Older" link to the same rows), search, each filter, each sort we offer.
Rows are compared (ids in order; for searches whose order differs by design, every row of both
sides must match the term). Runs interleave, >= 5 repetitions; p50, p95 and stock/ours.

    python bench/admin.py [--scale medium] [--repeat 5] [--only tasks,events]
"""

from __future__ import annotations

import argparse
import sys
import types
from urllib.parse import urlencode

from _kb import kb_articles  # sets up Django first (through _setup)
from _setup import interleaved, percentile
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import clear_url_caches, path
from django.utils import timezone

from apps.audit.models import AuditEventRow
from apps.core.admin.changelist import CURSOR_VAR
from apps.demo.services import demo_seed
from apps.events.models import EventRow
from apps.events.services import event_counts_roll_up
from apps.knowledge.models import Article
from apps.pg.partitioning import admin as window_filters
from apps.runs.models import NodeExecutionRow, WorkflowRunRow
from apps.tasks.models import Task

ARTICLES = {"small": 20_000, "medium": 200_000, "large": 1_000_000}
AUDIT_EVENTS = {"small": 20_000, "medium": 300_000, "large": 3_000_000}
MODELS = {
    "tasks": Task,
    "events": EventRow,
    "audit": AuditEventRow,
    "runs": WorkflowRunRow,
    "nodes": NodeExecutionRow,
    "articles": Article,
}


class StockSite(admin.AdminSite):
    def each_context(self, request):
        # The navigation sidebar exactly as ours (our permissions hide some add links).
        return {**super().each_context(request), "available_apps": admin.site.get_app_list(request)}


stock_site = StockSite(name="stock")


def stock_admin(model) -> None:
    ours = admin.site._registry[model]
    search = tuple(getattr(ours, "exact_search_fields", ()) or ours.search_fields or ())
    attrs = {
        "list_display": tuple(n for n in ours.list_display if isinstance(n, str)),
        "list_filter": ours.list_filter,
        "search_fields": search,
        "ordering": ours.ordering,
        "list_select_related": ours.list_select_related or False,
        "list_per_page": ours.list_per_page,
        "list_display_links": ours.list_display_links,
        "raw_id_fields": ours.raw_id_fields,
        "search_help_text": ours.search_help_text,
    }
    # The same page: our actions (and the action bar's form), our computed columns (e.g.
    # "Project / workflow"), rendered by the stock side too.
    attrs["action_form"] = ours.action_form
    attrs["actions"] = ours.actions
    for name in (*attrs["list_display"], *(a for a in ours.actions or () if isinstance(a, str))):
        if not hasattr(model, name) and callable(getattr(type(ours), name, None)):
            attrs[name] = getattr(type(ours), name)
    stock_site.register(model, type(f"Stock{model.__name__}Admin", (admin.ModelAdmin,), attrs))


def install_urls() -> None:
    module = types.ModuleType("bench_admin_urls")
    # The stock site under /admin/ too: the same middleware (the audit context is set for
    # /admin/ requests only) runs for both sides.
    module.urlpatterns = [
        path("admin/stock/", stock_site.urls),
        path("admin/", admin.site.urls),
    ]
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    clear_url_caches()


def ensure_data(scale: str, wanted: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM projects_project WHERE settings->>'demo' = %s", [scale]
        )
        if scale != "small" and not cursor.fetchone()[0]:
            demo_seed(scale=scale)
        if "events" in wanted:
            # What the beat job keeps up to date every 5 minutes: the chart's closed hours.
            event_counts_roll_up()
        if "articles" not in wanted and "audit" not in wanted:
            return
        kb_articles(ARTICLES[scale])
        # The audit list needs a realistic week: capture is off while seeding, so write it here.
        cursor.execute(
            "SELECT count(*) FROM audit_auditevent WHERE created_at > now() - interval '7 days'"
        )
        missing = AUDIT_EVENTS[scale] - cursor.fetchone()[0]
        if missing > 0:
            cursor.execute(
                """
                INSERT INTO audit_auditevent (table_name, row_pk, action, changes, request_id, created_at)
                SELECT (ARRAY['tasks_task','workflows_workflow','knowledge_article'])[1 + g %% 3],
                       (g %% 100000)::text,
                       CASE WHEN g %% 50 = 0 THEN 'DELETE' WHEN g %% 97 = 0 THEN 'ACTION'
                            WHEN g %% 3 = 0 THEN 'INSERT' ELSE 'UPDATE' END,
                       '{}', 'req-' || g, now() - (g * interval '6 days' / %(n)s)
                FROM generate_series(1, %(n)s) g
                """,
                {"n": missing},
            )
        for table in ("audit_auditevent", "knowledge_article", "tasks_task", "events_event"):
            cursor.execute(f"ANALYZE {table}")


def page(client: Client, url: str, params: dict):
    response = client.get(url, params)
    if response.status_code != 200:
        raise SystemExit(f"{url}?{urlencode(params)}: HTTP {response.status_code}")
    return response


def rows_of(response) -> list:
    return [obj.pk for obj in response.context["cl"].result_list]


def cases(client: Client, key: str, model) -> list[tuple[str, dict, dict, str]]:
    """(label, our params, stock params, comparison) for one changelist."""
    ours_url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    first = page(client, ours_url, {})
    cl = first.context["cl"]
    found = [("first page", {}, {}, "ids")]
    deep = max(1, min(cl.paginator.num_pages, 200))
    found.append((f"page {deep}", {"p": deep}, {"p": deep}, "ids"))
    # A very deep page: half the estimated rows; ours reaches it with a keyset cursor.
    count = cl.result_count
    offset = (count // 2) // cl.list_per_page * cl.list_per_page
    if offset > 10_000 and cl.keyset_fields():
        fields = cl.keyset_fields()
        names = [f.attname for f, _ in fields]
        previous = cl.queryset.order_by(*cl._current_ordering).values_list(*names)[offset - 1]
        token = "~".join(v.isoformat() if hasattr(v, "isoformat") else str(v) for v in previous)
        found.append(
            (f"offset {offset}", {CURSOR_VAR: token}, {"p": offset // cl.list_per_page + 1}, "ids")
        )
    for term, compare in SEARCHES.get(key, []):
        found.append((f"search {term!r}", {"q": term}, {"q": term}, compare))
    for spec in cl.filter_specs:
        param = getattr(spec, "parameter_name", None) or getattr(spec, "lookup_kwarg", "")
        for value in FILTER_VALUES.get((key, param), []):
            found.append((f"filter {param}={value}", {param: value}, {param: value}, "ids"))
    display = list(cl.list_display)
    # Column numbers differ when one side has the action checkbox (ours are read-only lists).
    stock_url = f"/admin/stock/{model._meta.app_label}/{model._meta.model_name}/"
    stock_display = list(page(client, stock_url, {}).context["cl"].list_display)
    for name in cl.sortable_by:
        if name in display and name in stock_display:
            ours_index, stock_index = display.index(name), stock_display.index(name)
            for sign, compare in (("-", "ids"), ("", "keys:" + name)):
                label = f"sort {sign or '+'}{name}"
                found.append(
                    (label, {"o": f"{sign}{ours_index}"}, {"o": f"{sign}{stock_index}"}, compare)
                )
    return found


SEARCHES: dict[str, list[tuple[str, str]]] = {}
FILTER_VALUES = {
    ("tasks", "status__exact"): ["blocked", "done"],
    ("events", "window"): ["30d"],
    ("events", "severity__exact"): ["critical", "info"],
    ("audit", "window"): ["30d"],
    ("audit", "action__exact"): ["DELETE", "UPDATE"],
    ("runs", "status__exact"): ["failed"],
    ("nodes", "status__exact"): ["failed"],
    ("articles", "content_type__exact"): ["markdown"],
}


def pick_searches() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT title FROM tasks_task ORDER BY id DESC LIMIT 1")
        SEARCHES["tasks"] = [(cursor.fetchone()[0].split()[-1], "match:title")]
        cursor.execute(
            "SELECT correlation_id FROM events_event WHERE created_at > now() - interval '7 days'"
            " AND correlation_id <> '' ORDER BY created_at DESC LIMIT 1"
        )
        row = cursor.fetchone()
        SEARCHES["events"] = [(row[0], "ids")] if row else []
        cursor.execute("SELECT request_id FROM audit_auditevent ORDER BY created_at DESC LIMIT 1")
        SEARCHES["audit"] = [(cursor.fetchone()[0] + "x", "ids")]  # a miss: the whole window
    SEARCHES["articles"] = [("deploy", "match:content"), ("kalomi", "match:content")]


def same(compare: str, a, b, model) -> bool:
    if compare == "ids":
        return rows_of(a) == rows_of(b)
    kind, field = compare.split(":")
    if kind == "keys":  # ascending sorts: ties may differ (stock breaks them by -pk)
        values = [getattr(o, field) for o in a.context["cl"].result_list]
        return values == [getattr(o, field) for o in b.context["cl"].result_list]
    term = a.context["cl"].query.lower()  # ranked vs unranked: both only return matches
    stems = term[:5]
    for response in (a, b):
        for obj in response.context["cl"].result_list:
            text = (getattr(obj, "title", "") + " " + getattr(obj, "content", "")).lower()
            if stems not in text:
                return False
    return len(rows_of(a)) == len(rows_of(b))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=["small", "medium", "large"], default="medium")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(MODELS))
    args = parser.parse_args()
    wanted = [k for k in args.only.split(",") if k] or list(MODELS)
    ensure_data(args.scale, wanted)
    # The time-window filter is relative to now: one instant for the whole run, so an ascending
    # sort's first rows do not expire between the two sides' requests.
    frozen = timezone.now()
    window_filters.timezone = types.SimpleNamespace(now=lambda: frozen)
    setup_test_environment()  # response.context, for the row comparison
    settings.ALLOWED_HOSTS = ["*"]
    # Every model of our site, in the same order, so the navigation sidebar and URL resolution
    # cost the same on both sides; the benchmarked lists get stock copies of our admins.
    for model in admin.site._registry:
        if model in MODELS.values():
            stock_admin(model)
        else:
            stock_site.register(model)
    install_urls()
    pick_searches()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)

    print(f"scale={args.scale} repeat={args.repeat} (ms; ratio = stock p50 / ours p50)")
    header = (
        f"{'list':<9}{'case':<30}{'ours p50':>9}{'p95':>8}{'stock p50':>10}{'p95':>8}{'ratio':>7}"
    )
    print(header)
    worst = []
    for key in wanted:
        model = MODELS[key]
        ours_url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        stock_url = f"/admin/stock/{model._meta.app_label}/{model._meta.model_name}/"
        for label, ours_params, stock_params, compare in cases(client, key, model):
            responses: dict = {}

            def run(side, url, params, responses=responses):
                def call():
                    responses[side] = page(client, url, params)

                return call

            samples = interleaved(
                {
                    "ours": run("ours", ours_url, ours_params),
                    "stock": run("stock", stock_url, stock_params),
                },
                repeat=args.repeat,
            )
            if not same(compare, responses["ours"], responses["stock"], model):
                raise SystemExit(f"{key} {label}: ours and stock returned different rows")
            o50, o95 = (percentile(samples["ours"], p) * 1000 for p in (50, 95))
            s50, s95 = (percentile(samples["stock"], p) * 1000 for p in (50, 95))
            ratio = s50 / o50 if o50 else float("inf")
            worst.append((ratio, key, label))
            print(
                f"{key:<9}{label[:29]:<30}{o50:>9.1f}{o95:>8.1f}{s50:>10.1f}{s95:>8.1f}{ratio:>6.1f}x",
                flush=True,
            )
    slower = [w for w in worst if w[0] < 1]
    print(
        f"cases: {len(worst)}; slower than stock: {len(slower)}"
        + "".join(f"\n  {k} {lab}: {r:.2f}x" for r, k, lab in slower)
    )


if __name__ == "__main__":
    main()
