"""Real headless Chromium (Debian `chromium` + `chromium-driver`, Selenium): log in, open every page.

Screenshots go to artifacts/dbhealth/ (gitignored). Skips only when the browser is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import needs_chromium, start_chrome

from .conftest import PAGES, SCHEMA, page_url

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "dbhealth"

EXPECT = {
    "overview": "Heap cache hit ratio",
    "indexes": "things_code_unused",
    "index-usage": "Scans per hour",
    "tables": f"{SCHEMA}.churn",
    "queries": "Share of total",
    "activity": "Backends of this database",
    "matviews": f"{SCHEMA}.stale_mv",
    "quality": "tasks_missing_title",
    "findings": "Findings, most severe first",
    "drift": "Schema drift",
    "suggested-indexes": "Suggested indexes",
}

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "monitor", "readonly"]),
    pytest.mark.slow,
    needs_chromium,
]


@pytest.fixture
def browser():
    driver = start_chrome()
    yield driver
    driver.quit()


def test_every_page_in_headless_chromium(scratch, live_server, browser, django_user_model):
    """live_server flushes the tables afterwards; conftest's `_restore_shipped_rows` puts back
    the rows our data migration shipped (operators group, default checks)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    django_user_model.objects.create_superuser("browser_admin", "b@example.com", "browser-pw-123!")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("browser_admin")
    browser.find_element(By.NAME, "password").send_keys("browser-pw-123!")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda d: "/admin/login/" not in d.current_url)
    assert "Log out" in browser.page_source or "logout" in browser.page_source.lower()

    browser.get(live_server.url + "/admin/")
    assert "Database health" in browser.page_source
    for name in PAGES:
        browser.get(live_server.url + page_url(name) + "?refresh=1")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Server Error" not in browser.page_source, name
        assert EXPECT[name] in browser.page_source, name
        assert browser.find_element(By.CSS_SELECTOR, ".dbh-tabs a.active").text, name
        assert body
        browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    # Run the checks from the page; results and history appear.
    browser.get(live_server.url + page_url("quality"))
    browser.find_element(By.ID, "run-all").click()
    messages = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "ul.messagelist")
    )
    assert "check(s):" in messages[0].text
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-check="tasks_schema"]').text
    assert "passed" in row
    browser.save_screenshot(str(ARTIFACTS / "quality-after-run.png"))
    # The tables page expands a partitioned table to its partitions.
    browser.get(live_server.url + page_url("tables"))
    browser.find_element(By.LINK_TEXT, f"{SCHEMA}.events_p").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "partitions"))
    assert f"{SCHEMA}.events_p_default" in browser.find_element(By.ID, "partitions").text
    browser.save_screenshot(str(ARTIFACTS / "tables-expanded.png"))


def test_overview_trends_fit_common_widths(live_server, browser, django_user_model):
    """Seeded overview snapshots: six trend charts and the new figure cards, no sideways
    scroll at 1280 and 1920 px."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from .test_overview_figures import _seed

    _seed(40)
    django_user_model.objects.create_superuser("trend_admin", "t@example.com", "trend-pw-123!")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("trend_admin")
    browser.find_element(By.NAME, "password").send_keys("trend-pw-123!")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda d: "/admin/login/" not in d.current_url)
    for width in (1280, 1920):
        browser.set_window_size(width, 900)
        inner = browser.execute_script("return window.innerWidth")
        browser.execute_script(f"window.resizeBy({width - inner}, 0)")
        browser.get(live_server.url + page_url("overview") + "?refresh=1")
        charts = browser.find_elements(By.CSS_SELECTOR, "#overview-snapshot-trends svg.fb-chart")
        assert len(charts) == 6
        assert browser.find_element(By.ID, "figure-redis").text
        scroll, inner = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll <= inner, width
        browser.save_screenshot(str(ARTIFACTS / f"overview-figures-{width}.png"))
        browser.execute_script(
            "document.getElementById('overview-snapshot-trends').scrollIntoView()"
        )
        browser.save_screenshot(str(ARTIFACTS / f"overview-trends-{width}.png"))
