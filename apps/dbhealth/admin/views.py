"""Custom admin pages of the Database section (thin: permission → selector/service → template).

Shape of `UserAdmin.user_change_password`: `admin_site.admin_view` (login + staff), an explicit
permission check here, `each_context`, `TemplateResponse`. Pages never run DDL.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from apps.audit import request_context
from apps.core.admin.scoping import projects_may
from apps.core.validation import parse_id, text_problem
from apps.origins.repeats import runs_a_batch
from apps.pg import routing

from .. import conf, selectors, services, trends
from ..cache import safe_cache as cache
from ..checks import activity as activity_checks
from ..checks.queries import filter_by_origin
from ..models import DataQualityCheck, Finding, FindingStatus
from ..sections import TABS

logger = logging.getLogger(__name__)

VIEW_PERM = "dbhealth.view_databasehealth"


def degrade(view):
    """A catalog query that times out (e.g. behind a migration's locks) gives a 503 page with
    an explanation and a retry link, never a 500."""

    @functools.wraps(view)
    def inner(request, model_admin, *args, **kwargs):
        try:
            return view(request, model_admin, *args, **kwargs)
        except DatabaseError as exc:
            logger.warning("dbhealth page %s unavailable: %s", view.__name__, exc)
            tab = view.__name__ if view.__name__ in dict(TABS) else "overview"
            response = _render(
                request,
                model_admin,
                tab,
                "unavailable.html",
                {"error": str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)},
                title=dict(TABS).get(tab, "Database"),
            )
            response.status_code = 503
            return response

    return inner


def require(request: HttpRequest, *perms: str) -> None:
    # The Database section shows every project's rows (samples, evidence): not for scoped staff.
    if projects_may(request, "view") is not None:
        raise PermissionDenied
    for perm in (VIEW_PERM, *perms):
        if not request.user.has_perm(perm):
            raise PermissionDenied


def _render(request, model_admin, tab: str, template: str, context: dict, title: str | None = None):
    request.current_app = model_admin.admin_site.name
    ctx = {
        **model_admin.admin_site.each_context(request),
        "title": title or dict(TABS)[tab],
        "tabs": TABS,
        "tab": tab,
        "opts": model_admin.model._meta,
        "perms_dbh": {
            "cancel": request.user.has_perm("dbhealth.cancel_backend"),
            "terminate": request.user.has_perm("dbhealth.terminate_backend"),
            "refresh": request.user.has_perm("dbhealth.refresh_matview"),
            "manage": request.user.has_perm("dbhealth.manage_finding"),
            "accept": request.user.has_perm("dbhealth.accept_finding"),
            "run": request.user.has_perm("dbhealth.run_quality_checks"),
            "samples": request.user.has_perm("dbhealth.view_failing_rows"),
        },
        **context,
    }
    return TemplateResponse(request, f"admin/dbhealth/{template}", ctx)


def _refresh(request) -> bool:
    return request.GET.get("refresh") == "1"


def _request_id(request) -> str | None:
    # Never the raw header: the middleware validated it (or replaced it) for the audit column.
    return request_context.current().request_id or getattr(request, "request_id", None)


# Deeper than this is not a page anyone browses (200 partitions a page).
MAX_PAGE = 10_000


def _page(request) -> int:
    """?page= as a page number; anything else (abc, ², -5, 10^30) is the first or last page."""
    value = parse_id(request.GET.get("page", "") or "1")
    return min(value or 1, MAX_PAGE)


# --- read pages ----------------------------------------------------------------------------


@degrade
def overview(request, model_admin):
    require(request)
    report = selectors.cached("overview", selectors.overview_report, refresh=_refresh(request))
    states = report["connections"]
    top = max((s["count"] for s in states), default=1) or 1
    for s in states:
        s["ratio"] = s["count"] / top
    xid_ratio = (report["oldest_xid_age"] or 0) / 2_000_000_000
    return _render(
        request,
        model_admin,
        "overview",
        "overview.html",
        {
            "report": report,
            "xid_ratio": xid_ratio,
            "open_counts": selectors.findings_open_counts(),
            "findings_checked": selectors.findings_last_checked(),
            # Live, not the cached report's: what a routed read does right now.
            "replica_routing": routing.decision(),
            **_overview_trends(),
            **trends.overview_trends(request.GET.get("trend", "24h")),
        },
        title="Database overview",
    )


def _overview_trends() -> dict:
    """Trends from what dbhealth already records: hourly index-usage snapshots and findings'
    first sighting."""
    from apps.core import charts

    series = selectors.index_history()
    scans = _scans_trend(series)
    by_day: dict[str, dict[str, int]] = {}
    for f in selectors.finding_list(include_closed=True):
        day = timezone.localtime(f.first_seen).strftime("%m-%d")
        by_day.setdefault(day, {}).setdefault(f.severity, 0)
        by_day[day][f.severity] += 1
    days = sorted(by_day)
    return {
        "scans_spark": charts.sparkline(scans, width=240, height=36) if len(scans) > 1 else "",
        "scans_hours": len(scans),
        "history": _history_span(series),
        "findings_chart": charts.stacked_bars(
            days,
            [
                (label, css, [by_day[d].get(sev, 0) for d in days])
                for sev, label, css in (
                    ("critical", "critical", "fb-s-critical"),
                    ("warning", "warning", "fb-s-warning"),
                    ("info", "info", "fb-s-info"),
                )
            ],
            height=100,
            unit="new findings",
        ),
    }


@degrade
def indexes(request, model_admin):
    require(request)
    report = selectors.cached("indexes", selectors.index_report, refresh=_refresh(request))
    flag = request.GET.get("flag", "")
    q = request.GET.get("q", "").strip().lower()
    rows = report["indexes"]
    if flag:
        rows = [r for r in rows if flag in r["flags"]]
    if q:
        rows = [
            r for r in rows if q in r["qualified_name"].lower() or q in r["qualified_table"].lower()
        ]
    rows = sorted(rows, key=lambda r: (not r["flags"], -r["size_bytes"]))
    return _render(
        request,
        model_admin,
        "indexes",
        "indexes.html",
        {
            "report": report,
            **_paged(request, rows, {"flag": flag, "q": q}),
            "flag": flag,
            "q": q,
        },
    )


# One screenful of a few thousand px, not 40,000 (the flagged rows sort first).
ROWS_PER_PAGE = 100


def _paged(request, rows: list, keep: dict[str, str]) -> dict:
    """`rows` cut to ?page=, with the query string that keeps the other filters."""
    from django.utils.http import urlencode

    pages = max(1, -(-len(rows) // ROWS_PER_PAGE))
    page = min(_page(request), pages)
    kept = {k: v for k, v in keep.items() if v}
    return {
        "rows": rows[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE],
        "total": len(rows),
        "page": page,
        "pages": pages,
        "page_query": f"{urlencode(kept)}&" if kept else "",
    }


@degrade
def index_usage(request, model_admin):
    require(request)
    series = selectors.index_history()
    return _render(
        request,
        model_admin,
        "index_usage",
        "index_usage.html",
        {
            "series": series,
            "groups": _by_table(series),
            "points": conf.get("SPARKLINE_POINTS"),
            "history": _history_span(series),
            "trend_chart": _scans_trend_chart(series),
        },
    )


def _scans_trend(series: list[dict]) -> list[int]:
    """Scans per hour over all indexes: the series end at the same latest snapshot, so they
    are summed right-aligned."""
    length = max((len(s["points"]) for s in series), default=0)
    totals = [0] * length
    for s in series:
        offset = length - len(s["points"])
        for i, v in enumerate(s["points"]):
            totals[offset + i] += v or 0
    return totals


def _scans_trend_chart(series: list[dict]) -> str:
    from apps.core import charts

    totals = _scans_trend(series)
    if len(totals) < 2:
        return ""
    labels = [
        f"-{len(totals) - 1 - i} h" if i < len(totals) - 1 else "now" for i in range(len(totals))
    ]
    return charts.stacked_bars(labels, [("scans", "fb-s-info", totals)], height=120, unit="")


def _by_table(series: list[dict]) -> list[dict]:
    """Index series grouped per table (a collapsed row each), least-used tables first."""
    groups: dict[tuple[str, str], dict] = {}
    for s in series:
        g = groups.setdefault(
            (s["schema"], s["table"]),
            {"schema": s["schema"], "table": s["table"], "series": [], "total": 0, "idle": 0},
        )
        g["series"].append(s)
        g["total"] += s["total"]
        g["idle"] += int(s["total"] == 0)
    return sorted(groups.values(), key=lambda g: (-g["idle"], g["total"], g["table"]))


def _history_span(series: list[dict]) -> dict:
    """How many hourly points the longest series has, and how long until the window is full."""
    points = conf.get("SPARKLINE_POINTS")
    have = max((len(s["points"]) for s in series), default=0)
    return {"have": have, "want": points, "missing_hours": max(points - have, 0)}


@degrade
def tables(request, model_admin):
    require(request)
    report = selectors.cached("tables", selectors.table_report, refresh=_refresh(request))
    expand = request.GET.get("expand")
    partitions = []
    expanded = None
    page = _page(request)
    oid = parse_id(expand or "")
    if expand and oid is None:
        raise Http404("no such partitioned table")
    if oid is not None:
        expanded = next((t for t in report["tables"] if t["oid"] == oid), None)
        if expanded is None:
            raise Http404("no such partitioned table")
        partitions = selectors.table_partitions(oid, page=page)
    return _render(
        request,
        model_admin,
        "tables",
        "tables.html",
        {
            "report": report,
            "expanded": expanded,
            "partitions": partitions,
            "page": page,
            "next_page": page + 1 if len(partitions) == 200 else None,
        },
    )


@degrade
def queries(request, model_admin):
    require(request)
    order = request.GET.get("order", "total")
    if order not in ("total", "mean", "calls"):
        order = "total"
    origin = request.GET.get("origin", "").strip()[:200]
    if origin:  # a search over more statements than the cached top list
        report = selectors.query_report(order, origin=origin)
    else:
        report = selectors.cached(
            f"queries:{order}", lambda: selectors.query_report(order), refresh=_refresh(request)
        )
    return _render(request, model_admin, "queries", "queries.html", {"report": report})


@degrade
def activity(request, model_admin):
    require(request)
    # Live by nature: cached for a few seconds only.
    report = selectors.cached(
        "activity", selectors.activity_report, refresh=_refresh(request), ttl=5
    )
    origin = request.GET.get("origin", "")[:200]
    report = {**report, "backends": filter_by_origin(report["backends"], origin), "origin": origin}
    return _render(request, model_admin, "activity", "activity.html", {"report": report})


@degrade
def matviews(request, model_admin):
    require(request)
    report = selectors.cached("matviews", selectors.matview_report, refresh=_refresh(request))
    return _render(request, model_admin, "matviews", "matviews.html", {"report": report})


@degrade
@runs_a_batch  # one EXPLAIN per slow statement and candidate, on one connection
def suggested_indexes(request, model_admin):
    require(request)
    report = selectors.cached(
        "suggested_indexes", selectors.suggested_index_report, refresh=_refresh(request)
    )
    return _render(
        request, model_admin, "suggested_indexes", "suggested_indexes.html", {"report": report}
    )


@degrade
def drift(request, model_admin):
    require(request)
    report = selectors.cached("drift", selectors.drift_report, refresh=_refresh(request))
    return _render(request, model_admin, "drift", "drift.html", {"report": report})


@degrade
def quality(request, model_admin):
    require(request)
    report = selectors.quality_report()
    return _render(request, model_admin, "quality", "quality.html", {"report": report})


@degrade
def quality_check(request, model_admin, pk: int):
    require(request)
    check = get_object_or_404(DataQualityCheck, pk=pk)
    results = list(check.results.order_by("-ran_at")[:100])
    chart = list(reversed(results))
    return _render(
        request,
        model_admin,
        "quality",
        "quality_check.html",
        {
            "check": check,
            "results": results,
            "chart_values": [r.failed_count for r in chart],
            "chart_flags": [not r.passed for r in chart],
            "share_chart": _failing_share_chart(chart),
            "last": results[0] if results else None,
        },
        title=f"Data-quality check {check.name}",
    )


def _failing_share_chart(results) -> str:
    """Per run, failing and passing rows as shares of the rows checked (runs that errored or
    checked nothing draw no column), so one run with 3 of 10,000 failing is a sliver, not a
    block."""
    from apps.core import charts

    labels, failing, passing = [], [], []
    for r in results:
        labels.append(timezone.localtime(r.ran_at).strftime("%m-%d %H:%M"))
        total = r.total or 0
        share = min(r.failed_count / total, 1.0) * 100 if total else 0.0
        failing.append(round(share, 2))
        passing.append(round(100 - share, 2) if total else 0.0)
    return charts.stacked_bars(
        labels,
        [("% failing", "fb-s-error", failing), ("% passing", "fb-t-done", passing)],
        height=120,
        unit="of rows checked",
    )


@degrade
def findings(request, model_admin):
    require(request)
    # One sync per TTL (or on demand): upserts, auto-resolves and reopens by key.
    key = selectors.cache_key("findings-synced")
    if _refresh(request) or cache.add(key, 1, conf.get("PAGE_CACHE_SECONDS")):
        services.findings_refresh()
        cache.set(key, 1, conf.get("PAGE_CACHE_SECONDS"))
    show = request.GET.get("show", "open")
    items = selectors.finding_list(include_closed=show == "all")
    return _render(
        request,
        model_admin,
        "findings",
        "findings.html",
        {
            "items": items,
            "show": show,
            "open_counts": selectors.findings_open_counts(),
            "snooze_choices": [(1, "1 day"), (7, "7 days"), (30, "30 days"), (90, "90 days")],
            "accept_reason_max": services.ACCEPT_REASON_MAX_LENGTH,
        },
    )


# --- actions (POST, own permission, confirmation where destructive) -------------------------


def activity_signal(request, model_admin, pid: int, action: str):
    if action not in ("cancel", "terminate"):
        raise Http404
    require(request, f"dbhealth.{action}_backend")
    backend = activity_checks.backend(pid)
    if request.method == "POST":
        if backend is None or backend["is_self"]:
            messages.error(request, f"Backend {pid} is gone or cannot be signalled.")
        else:
            ok = services.backend_signal(
                pid=pid, action=action, actor_id=request.user.pk, request_id=_request_id(request)
            )
            level = messages.SUCCESS if ok else messages.WARNING
            messages.add_message(
                request,
                level,
                f"{action.title()} {'sent to' if ok else 'failed for'} backend {pid}.",
            )
        return redirect("admin:dbhealth_activity")
    if backend is None:
        raise Http404("no such backend in this database")
    return _render(
        request,
        model_admin,
        "activity",
        "confirm_signal.html",
        {"backend": backend, "action": action},
        title=f"{action.title()} backend {pid}?",
    )


def matview_refresh(request, model_admin):
    require(request, "dbhealth.refresh_matview")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    name = request.POST.get("name", "")
    try:
        task_id = services.matview_refresh_enqueue(
            name=name, actor_id=request.user.pk, request_id=_request_id(request)
        )
    except LookupError as exc:
        messages.error(request, str(exc))
    except Exception as exc:  # broker down
        messages.error(request, f"Could not enqueue the refresh of {name}: {exc}")
    else:
        messages.success(request, f"Refresh of {name} enqueued (task {task_id}).")
    return redirect("admin:dbhealth_matviews")


@runs_a_batch  # every check, each in its own sandboxed transaction
def quality_run(request, model_admin):
    require(request, "dbhealth.run_quality_checks")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    name = request.POST.get("name") or None
    if name and not DataQualityCheck.objects.filter(name=name[:200]).exists():
        messages.error(request, f"There is no data-quality check named {name[:80]!r}.")
        return redirect("admin:dbhealth_quality")
    results = services.dataquality_run(names=[name] if name else None)
    failed = sum(1 for r in results if not r.passed)
    messages.info(request, f"Ran {len(results)} check(s): {failed} failed.")
    if name and results:
        return redirect("admin:dbhealth_quality_check", pk=results[0].check_ref_id)
    return redirect("admin:dbhealth_quality")


def finding_action(request, model_admin, pk: int, action: str):
    if action not in ("resolve", "snooze"):
        raise Http404
    require(request, "dbhealth.manage_finding")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    finding = get_object_or_404(Finding, pk=pk)
    note = request.POST.get("note", "").strip()[:1000]
    problem = text_problem(note)
    if problem:
        messages.error(request, f"Note: {problem}; nothing was changed.")
        return redirect(_findings_url())
    if action == "resolve":
        services.finding_resolve(finding=finding, user_id=request.user.pk, note=note)
        messages.success(request, f"Resolved: {finding.title}")
    else:
        days = parse_id(request.POST.get("days", "7")) or 7
        until = timezone.now() + timedelta(days=min(max(days, 1), 365))
        services.finding_snooze(finding=finding, user_id=request.user.pk, until=until, note=note)
        messages.success(request, f"Snoozed until {until:%Y-%m-%d}: {finding.title}")
    return redirect(
        f"{_findings_url()}?show={'all' if finding.status != FindingStatus.OPEN else 'open'}"
    )


def finding_accept(request, model_admin, pk: int):
    """Accept an open (or snoozed) finding with a reason: it leaves the open list until its
    evidence changes materially (services.finding_accept)."""
    require(request, "dbhealth.accept_finding")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    finding = get_object_or_404(Finding, pk=pk)
    if finding.status not in (FindingStatus.OPEN, FindingStatus.SNOOZED):
        messages.error(
            request,
            f"Only an open or snoozed finding can be accepted; this one is {finding.status}.",
        )
        return redirect(_findings_url())
    # Not truncated: a reason cut short would be accepted as something nobody wrote.
    reason = request.POST.get("reason", "")
    problem = services.accept_reason_problem(reason)
    if problem:
        messages.error(request, f"Reason: {problem}; nothing was changed.")
        return redirect(_findings_url())
    services.finding_accept(
        finding=finding, user_id=request.user.pk, reason=reason, request_id=_request_id(request)
    )
    messages.success(request, f"Accepted: {finding.title}")
    return redirect(f"{_findings_url()}?show=all")


def _findings_url() -> str:
    from django.urls import reverse

    return reverse("admin:dbhealth_findings")
