"""The rendered report in real headless Chromium: it loads without script errors, every link
resolves (files over HTTP, #fragments on their pages), and the row filter works.

The report is served by http.server on 127.0.0.1 (port 0) from a thread stopped at the end;
Chromium runs with a fresh profile and its background network traffic off; every wait is
bounded.  Skipped only when Chromium, its driver or selenium is absent.
"""

from __future__ import annotations

import functools
import threading
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import pytest

from interop.report import render_reports
from tests.interop.report_support import write_sample

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver && pip install 'selenium>=4.20'"
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,900")
EXTERNAL = "https://docs.oasis-open.org/mqtt/"  # statement links: the only ones leaving the report


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request lines in the test output."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("browser")
    out = base / "report"
    render_reports(write_sample(base / "results"), out)
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip(f"selenium is not installed: {INSTALL}")
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(f"Chromium or chromedriver is not installed: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


def assert_no_console_errors(browser: Any) -> None:
    """No SEVERE console entry (a script error, a missing file) since the last look."""
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], browser.current_url


def open_page(browser: Any, url: str) -> None:
    browser.get(url)
    assert_no_console_errors(browser)


def visible(browser: Any, element_id: str) -> bool:
    return bool(browser.find_element("id", element_id).is_displayed())


def test_index_loads_with_its_headers(browser: Any, site: str) -> None:
    open_page(browser, site + "index.html")
    assert browser.title == "MQTT broker conformance matrix"
    assert browser.find_element("tag name", "h1").text == "MQTT broker conformance matrix"
    headers = [th.text for th in browser.find_elements("css selector", "table.matrix th.broker")]
    assert any(h.startswith("alpha") for h in headers)
    assert any(h.startswith("beta") for h in headers)
    versions = {th.text.split("\n")[0] for th in
                browser.find_elements("css selector", "table.matrix th.version")}
    assert {"MQTT 3.1", "MQTT 3.1.1", "MQTT 5.0"} <= versions
    assert "gamma" in browser.find_element("id", "not-run").text


@pytest.mark.parametrize("page", ["index.html", "disagreements.html", "clients.html",
                                  "cases/publish.delivered.html"])
def test_every_link_resolves(browser: Any, site: str, page: str) -> None:
    open_page(browser, site + page)
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href]'), a => a.href);")
    fragments: dict[str, set[str]] = {}
    for href in hrefs:
        if not href.startswith(site):
            assert href.startswith(EXTERNAL), href
            continue
        target, fragment = urldefrag(href)
        fragments.setdefault(target, set()).update({fragment} if fragment else set())
    assert len(fragments) >= 2
    for target, wanted in fragments.items():
        with urllib.request.urlopen(target, timeout=10) as response:
            assert response.status == 200, target
        if wanted and target.endswith(".html"):
            open_page(browser, target)
            missing = browser.execute_script(
                "return arguments[0].filter(id => !document.getElementById(id));", sorted(wanted))
            assert missing == [], target


def test_filter_shows_only_the_chosen_rows(browser: Any, site: str) -> None:
    open_page(browser, site + "index.html")
    disputed, agreed = "row--publish.delivered--5.0", "row--connect.first-packet--3.1.1"
    errored, group = "row--qos.ordering--3.1.1", "malformed--3.1.1--reserved-flags"
    assert visible(browser, disputed) and visible(browser, agreed)
    browser.find_element("css selector", "input[name=filter][value=disagree]").click()
    assert visible(browser, disputed) and not visible(browser, agreed)
    assert not visible(browser, errored)
    assert browser.find_element("id", group).get_attribute("open") is not None
    assert visible(browser, "row--malformed.connect.reserved-flags-0001--3.1.1")
    assert not visible(browser, "malformed--5.0--reason-code")
    browser.find_element("css selector", "input[name=filter][value=problem]").click()
    assert visible(browser, errored) and not visible(browser, agreed)
    browser.find_element("css selector", "input[name=filter][value=all]").click()
    assert visible(browser, agreed) and visible(browser, "malformed--5.0--reason-code")
    assert_no_console_errors(browser)


def test_a_link_into_a_closed_group_opens_it(browser: Any, site: str) -> None:
    open_page(browser, site + "disagreements.html")
    open_page(browser, site + "index.html#row--malformed.connect.reserved-flags-0001--3.1.1")
    assert visible(browser, "row--malformed.connect.reserved-flags-0001--3.1.1")
