"""Every Database page and the main admin pages fit common screen widths in real Chromium.

With the demo data set loaded, each page is opened at 1280, 1440 and 1920 px (CSS pixels, one
device pixel each) and must not scroll sideways (`scrollWidth <= innerWidth`); its action
buttons (Resolve/Snooze on findings, Refresh now, the submit row, the bulk-action bar) must lie
inside the viewport. Screenshots and the page heights go to artifacts/layout/ (gitignored):
heights.json maps "<page>@<width>" to the page's height in px.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.browser import needs_chromium, start_chrome

# seed_demo and refresh_views run their DDL as the owner, the Database pages read as the
# monitor, data-quality checks as the read-only role.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases=["default", "owner", "monitor", "readonly"]),
    pytest.mark.usefixtures("restore_partitions"),
    needs_chromium,
]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "layout"
WIDTHS = (1280, 1440, 1920)
HEIGHT = 900
# Controls a person must reach without scrolling sideways.
ACTIONS = ", ".join(
    (
        "tr.dbh-finding input[type=submit]",
        "tr.dbh-finding select",
        "form.dbh-inline-form input[type=submit]",
        ".submit-row input",
        ".submit-row a",
        "#changelist-form .actions button",
        "#changelist-form .actions select",
        "#changelist-search input[type=submit]",
    )
)
MEASURE = """
const w = window.innerWidth;
const out = [];
for (const el of document.querySelectorAll(arguments[0])) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;  // hidden (closed <details>, display:none)
  if (r.left < 0 || r.right > w + 0.5) out.push(el.outerHTML.slice(0, 120) + ' right=' + r.right);
}
// The changelist's own scroll box: a column cut off behind it is as hidden as off-page.
for (const box of document.querySelectorAll('#changelist .results, .inline-group .tabular')) {
  if (box.scrollWidth > box.clientWidth + 1) {
    out.push((box.id || box.className) + ' scrolls sideways: ' + box.scrollWidth + ' > ' + box.clientWidth);
  }
}
return {
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: w,
  height: document.documentElement.scrollHeight,
  outside: out,
};
"""


def load_demo_world():
    from apps.dbhealth import services as dbh_services
    from apps.tasks.models import Task
    from tests.conftest import restore_shipped_rows

    restore_shipped_rows()
    call_command("seed_demo", "--scale", "small", verbosity=0)
    call_command("refresh_views", stdout=io.StringIO())
    dbh_services.dataquality_run()
    dbh_services.index_usage_snapshot_take()
    dbh_services.findings_refresh()
    assert Task.objects.filter(parent__isnull=False).exists()


def pages() -> dict[str, str]:
    """Page name -> URL: every Database tab, and the main changelists and change views."""
    from apps.audit.models import AuditEventRow
    from apps.components.models import SystemHealth
    from apps.dbhealth.admin.views import TABS
    from apps.dbhealth.models import DataQualityCheck
    from apps.events.models import EventRow, PerformanceMetricRow
    from apps.knowledge.models import Article
    from apps.projects.models import Project
    from apps.runs.models import WorkflowRunRow
    from apps.tasks.models import Task
    from apps.workflows.models import Workflow

    urls = {f"db-{key}": reverse(f"admin:dbhealth_{key}") for key, _label in TABS}
    check = DataQualityCheck.objects.filter(results__isnull=False).order_by("pk").first()
    urls["db-quality-check"] = reverse("admin:dbhealth_quality_check", args=[check.pk])
    for name, model in (
        ("projects", Project),
        ("workflows", Workflow),
        ("tasks", Task),
        ("runs", WorkflowRunRow),
        ("events", EventRow),
        ("metrics", PerformanceMetricRow),
        ("system-health", SystemHealth),
        ("audit", AuditEventRow),
        ("knowledge", Article),
    ):
        meta = model._meta
        urls[name] = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            urls[f"{name}-change"] = reverse(
                f"admin:{meta.app_label}_{meta.model_name}_change", args=[first]
            )
    parent = Task.objects.filter(subtasks__isnull=False).order_by("pk").first()
    urls["task-with-subtasks"] = reverse("admin:tasks_task_change", args=[parent.pk])
    workflow = parent.workflow_id
    urls["tasks-of-workflow"] = (
        reverse("admin:tasks_task_changelist") + f"?workflow__id__exact={workflow}"
    )
    return urls


@pytest.fixture
def views_as_found():
    """The flush after a committed test truncates tables, not the materialized views' contents."""
    yield
    from tests.conftest import owner_credentials_on_default

    with owner_credentials_on_default():
        call_command("flush", interactive=False, verbosity=0)
    call_command("refresh_views", stdout=io.StringIO())


@pytest.fixture
def browser():
    driver = start_chrome()
    yield driver
    driver.quit()


def test_pages_fit_common_widths(live_server, browser, django_user_model, views_as_found):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    load_demo_world()
    urls = pages()
    django_user_model.objects.create_superuser("layout_admin", "l@example.com", "layout-pw-123!")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("layout_admin")
    browser.find_element(By.NAME, "password").send_keys("layout-pw-123!")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda d: "/admin/login/" not in d.current_url)

    heights: dict[str, int] = {}
    problems: list[str] = []
    for width in WIDTHS:
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        for name, url in urls.items():
            browser.get(live_server.url + url)
            source = browser.page_source
            assert "Server Error" not in source and "Traceback" not in source, (name, url)
            assert "/admin/login/" not in browser.current_url, name
            m = browser.execute_script(MEASURE, ACTIONS)
            heights[f"{name}@{width}"] = m["height"]
            if m["scrollWidth"] > m["innerWidth"]:
                problems.append(f"{name}@{width}: scrollWidth {m['scrollWidth']} > {width}")
            problems += [f"{name}@{width}: outside the viewport: {o}" for o in m["outside"]]
            browser.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {
                    "width": width,
                    "height": min(m["height"], 16_000),
                    "deviceScaleFactor": 1,
                    "mobile": False,
                },
            )
            browser.save_screenshot(str(ARTIFACTS / f"{name}@{width}.png"))
            browser.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
            )
    (ARTIFACTS / "heights.json").write_text(json.dumps(heights, indent=2, sort_keys=True))
    # The copy buttons are shown by a static script (the CSP allows no inline one) and work;
    # the preview expands without script.
    browser.get(live_server.url + urls["db-findings"])
    button = browser.find_element(By.CSS_SELECTOR, "tr.dbh-finding button.dbh-copy")
    assert button.is_displayed()
    button.click()
    WebDriverWait(browser, 5).until(lambda d: button.text in ("Copied", "Press Ctrl+C"))
    details = browser.find_element(By.CSS_SELECTOR, "tr.dbh-finding .dbh-code details")
    pre = details.find_element(By.TAG_NAME, "pre")
    assert not pre.is_displayed()
    details.find_element(By.TAG_NAME, "summary").click()
    assert pre.is_displayed() and pre.text.strip()
    assert not problems, "\n".join(problems)
