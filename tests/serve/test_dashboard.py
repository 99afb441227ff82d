"""The dashboard in a real browser: Debian's chromium, headless, driven by
Selenium through chromedriver, against a real server and worker.

Skipped only when chromium or chromedriver is not installed; .ci/run
installs both (scripts/_setup.sh) and then requires them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import Server

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        reason = (
            "chromium and chromium-driver are not installed (apt install chromium chromium-driver)"
        )
        if os.environ.get("MEDIAFORGE_REQUIRE_SERVERS") == "1":
            pytest.fail(reason + "; MEDIAFORGE_REQUIRE_SERVERS=1 requires them")
        pytest.skip(reason)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium must not look for drivers online
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path / 'chromium'}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: Any, condition: Any, seconds: float, what: str) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The board is redrawn at each event: an element found a moment ago may be gone.
    ignored = [StaleElementReferenceException]
    waiting = WebDriverWait(driver, seconds, poll_frequency=0.1, ignored_exceptions=ignored)
    return waiting.until(condition, message=what)


def test_log_in_watch_a_bar_move_read_a_failure_and_retry_it(
    server: Server, clip: Path, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    def submit(preset: str, priority: int) -> int:
        body = {"inputs": [str(clip)], "preset": preset, "priority": priority, "force": True}
        job_id: int = server.post("/api/v1/jobs", body).json()["ids"][0]
        return job_id

    broken = submit("broken", 10)  # fails first, then the paced job runs for seconds
    paced = submit("paced", 0)
    server.mf.start("worker")

    browser.get(f"http://127.0.0.1:{server.port}/")
    wait(browser, lambda d: d.find_element(By.ID, "login").is_displayed(), 10, "the login form")
    browser.find_element(By.ID, "token").send_keys("wrong-token-for-sure")
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait(browser, lambda d: d.find_element(By.ID, "login-error").text, 10, "the refusal")
    browser.find_element(By.ID, "token").send_keys(server.token)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait(browser, lambda d: d.find_element(By.ID, "board").is_displayed(), 10, "the board")
    # The token is in an HttpOnly cookie: the page's scripts cannot read it.
    assert server.token not in browser.execute_script("return document.cookie")

    reason = wait(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, f"#failed-{broken} .reason").text,
        60, "the failed job's row",
    )  # fmt: skip
    error = server.get(f"/api/v1/jobs/{broken}").json()["error"]
    assert error and error in reason

    def bar_value(d: Any) -> float:
        bars = d.find_elements(By.CSS_SELECTOR, f"progress[data-job='{paced}']")
        return float(bars[0].get_attribute("value")) if bars else -1.0

    first = wait(browser, lambda d: bar_value(d) > 0 and bar_value(d), 60, "a progress bar")
    wait(browser, lambda d: bar_value(d) > first, 30, "the progress bar to move")
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    shot = os.environ.get("MEDIAFORGE_DASHBOARD_SCREENSHOT")
    if shot:  # how docs/img/dashboard.png is made
        shutil.copy(tmp_path / "dashboard.png", shot)

    retry = f"button.retry[data-job='{broken}']"
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, retry).click() or True, 10, "retry")
    server.mf.wait_until(
        lambda: server.get(f"/api/v1/jobs/{broken}").json()["status"] != "failed", 10,
        "the retried job to be queued again",
    )  # fmt: skip
    assert server.mf.status(broken)["attempts"] in (0, 1)
    back = (f"queued-{broken}", f"running-{broken}")
    wait(
        browser, lambda d: any(d.find_elements(By.ID, i) for i in back), 10,
        "the retried job on the board",
    )  # fmt: skip
    assert not browser.find_elements(By.ID, f"failed-{broken}")
