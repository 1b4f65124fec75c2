"""The Content-Security-Policy holds in real headless Chromium: every Database page and the main
admin pages load without a single `securitypolicyviolation`, and their interactive parts
(theme toggle, select-all, collapsible fieldsets, inline "add another", date shortcuts,
related-object popups, <details>, the confirmation and run forms) still work.

Violations are collected by a listener installed before any page script runs (CDP
`Page.addScriptToEvaluateOnNewDocument`) and, as a second witness, from the console log.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tests.browser import needs_chromium, start_chrome
from tests.dbhealth.conftest import PAGES, page_url

pytestmark = [
    # The Database pages read as the monitor role, the quality run as the read-only role.
    pytest.mark.django_db(transaction=True, databases=["default", "monitor", "readonly"]),
    pytest.mark.slow,
    needs_chromium,
]

LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(' '));
});
"""


@pytest.fixture
def browser():
    driver = start_chrome(console_log=True)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTENER})
    yield driver
    driver.quit()


class Visit:
    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base = base_url
        self.violations: list[str] = []
        self.pages = 0

    def open(self, path: str):
        self.driver.get(self.base + path)
        self.pages += 1
        self.collect(path)

    def collect(self, where: str):
        found = self.driver.execute_script("return window.__csp || []") or []
        console = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if "Content Security Policy" in entry.get("message", "")
        ]
        self.violations += [f"{where}: {v}" for v in [*found, *console]]
        assert "Server Error" not in self.driver.page_source, where


def test_admin_and_database_pages_run_under_the_csp(live_server, browser, django_user_model):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from apps.dbhealth import services as dbh_services
    from apps.tasks.models import Task
    from tests.conftest import restore_shipped_rows
    from tests.factories import domain as f

    restore_shipped_rows()
    task = f.TaskFactory()
    f.TaskFactory(workflow=task.workflow, parent=task)
    dbh_services.findings_refresh()
    django_user_model.objects.create_superuser("csp_admin", "c@example.com", "csp-pw-123!")
    with connection.cursor() as cursor:  # an idle backend the confirmation page can target
        cursor.execute("SELECT pg_backend_pid()")
        idle_pid = cursor.fetchone()[0]

    visit = Visit(browser, live_server.url)
    wait = WebDriverWait(browser, 20)
    visit.open("/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("csp_admin")
    browser.find_element(By.NAME, "password").send_keys("csp-pw-123!")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(lambda d: "/admin/login/" not in d.current_url)
    visit.collect("after login")

    # Canary: an inline script is blocked and reported, so the listener can see violations.
    visit.open("/admin/")
    browser.execute_script(
        "var s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.body.appendChild(s);"
    )
    wait.until(lambda d: d.execute_script("return window.__csp.length"))
    assert browser.execute_script("return window.__ran") is None
    browser.execute_script("window.__csp = []")
    browser.get_log("browser")  # drop the canary's console message

    # Index: the theme toggle (admin/js/theme.js) switches the colour theme.
    visit.open("/admin/")
    before = browser.execute_script("return document.documentElement.dataset.theme || 'auto'")
    browser.find_element(By.CSS_SELECTOR, "button.theme-toggle").click()
    after = browser.execute_script("return document.documentElement.dataset.theme")
    assert after and after != before

    # Changelist: select-all (admin/js/actions.js) ticks every row and updates the counter.
    visit.open("/admin/tasks/task/")
    browser.find_element(By.ID, "action-toggle").click()
    boxes = browser.find_elements(By.CSS_SELECTOR, "input.action-select")
    assert boxes and all(b.is_selected() for b in boxes)
    assert "selected" in browser.find_element(By.CSS_SELECTOR, ".action-counter").text

    # Change form: collapsible fieldset, inline "add another" (inlines.js), raw-id popup.
    visit.open(f"/admin/tasks/task/{task.pk}/change/")
    summary = browser.find_element(By.CSS_SELECTOR, "fieldset.collapse details summary")
    summary.click()
    assert browser.find_element(By.CSS_SELECTOR, "fieldset.collapse details").get_attribute("open")
    rows = len(browser.find_elements(By.CSS_SELECTOR, "#subtasks-group tr.form-row"))
    browser.find_element(By.CSS_SELECTOR, "#subtasks-group .add-row a").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#subtasks-group tr.form-row")) == rows + 1
    main = browser.current_window_handle
    browser.find_element(By.ID, "lookup_id_workflow").click()
    wait.until(lambda d: len(d.window_handles) == 2)
    popup = next(h for h in browser.window_handles if h != main)
    browser.switch_to.window(popup)
    wait.until(lambda d: d.find_elements(By.ID, "result_list"))
    visit.collect("raw-id popup")
    browser.close()
    browser.switch_to.window(main)

    # Date shortcuts (DateTimeShortcuts.js) on the user form.
    user_id = django_user_model.objects.get(username="csp_admin").pk
    visit.open(f"/admin/auth/user/{user_id}/change/")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".datetimeshortcuts a"))
    browser.find_element(By.CSS_SELECTOR, ".datetimeshortcuts a").click()  # "Today"
    assert browser.find_element(By.ID, "id_last_login_0").get_attribute("value")
    visit.open("/admin/tasks/task/add/")

    # Every Database page.
    for name in PAGES:
        visit.open(page_url(name) + "?refresh=1")
        assert browser.find_element(By.CSS_SELECTOR, ".dbh-tabs a.active").text, name
        styled = browser.execute_script(
            "return getComputedStyle(document.querySelector('.dbh-tabs')).display"
        )
        assert styled == "flex", f"{name}: dbhealth.css not applied"

    # Findings: <details> expands; the run form posts and reports.
    visit.open(page_url("findings"))
    details = browser.find_elements(By.CSS_SELECTOR, "details")
    if details:
        details[0].find_element(By.TAG_NAME, "summary").click()
    visit.open(page_url("quality"))
    browser.find_element(By.ID, "run-all").click()
    messages = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.messagelist"))
    assert "check(s):" in messages[0].text
    visit.collect("quality run")

    # Confirmation form of a backend cancel: rendered, submitted, answered.
    visit.open(page_url(f"activity/{idle_pid}/cancel"))
    browser.find_element(By.CSS_SELECTOR, "#content-main form [type=submit]").click()
    messages = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.messagelist"))
    assert f"backend {idle_pid}" in messages[0].text
    visit.collect("cancel confirmed")

    assert visit.pages >= len(PAGES) + 8
    assert not visit.violations, "\n".join(visit.violations)
    assert Task.objects.filter(pk=task.pk).exists()
