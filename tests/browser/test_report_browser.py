"""report.html in a real browser: headless Chromium (Debian's) driven by Playwright.

Loads the reports of a clean, a failing, a huge and a hostile run from files (as a reviewer opens
them), asserts the key parts are visible, that the page logs no console error, fetches nothing
from the network and never runs server-supplied script. Screenshots go to ``$XTALK_SCREENSHOT_DIR``
when set (to look at them), else to pytest's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from xtalk.report import outputs, samples

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    wanted = os.environ.get("XTALK_SCREENSHOT_DIR")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Opened:
    """A page with its console errors, page errors, dialogs and requests recorded."""

    def __init__(self, browser, path: Path, *, javascript: bool = True) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")

    def close(self) -> None:
        self.context.close()


def _report(tmp_path: Path, name: str, verdict: dict) -> Path:
    run_dir = tmp_path / name
    outputs.write_run_outputs(run_dir, verdict, trend_db=tmp_path / "history.sqlite")
    return run_dir / "report.html"


def test_clean_report_shows_a_pass_banner_coverage_and_no_console_errors(browser, tmp_path, shots):
    opened = Opened(browser, _report(tmp_path, "clean", samples.clean()))
    page = opened.page
    banner = page.locator("#verdict")
    assert banner.is_visible() and "PASS" in banner.inner_text()
    assert "Users stayed isolated." in banner.inner_text()
    assert page.locator("#coverage .card").count() >= 10 and page.locator("#coverage").is_visible()
    assert page.locator("#matrix table.matrix td.own").count() == 20
    assert page.locator("#matrix table.matrix td.leak").count() == 0
    assert page.locator("#latency svg.chart").count() == 3
    assert page.locator("#first-failure").count() == 0
    page.screenshot(path=str(shots / "clean-top.png"))
    page.screenshot(path=str(shots / "clean-full.png"), full_page=True)
    assert opened.errors == []
    assert opened.requests == [opened.url]  # nothing but the file itself
    opened.close()


def test_failing_report_shows_the_witness_matrix_swimlanes_and_a_working_filter(browser, tmp_path, shots):
    verdict = samples.failing()
    outputs.write_run_outputs(tmp_path / "before", samples.clean(run_id="before"), trend_db=tmp_path / "history.sqlite")
    opened = Opened(browser, _report(tmp_path, "failing", verdict))
    page = opened.page
    assert "FAIL" in page.locator("#verdict").inner_text()
    first = page.locator("#first-failure")
    assert first.is_visible()
    assert page.locator("#first-failure pre.raw").first.is_visible()
    assert '"type": "tool_completed"' in first.inner_text()
    assert page.locator("#matrix td.leak").count() == 3
    assert page.locator("#matrix td.leak").first.is_visible()
    assert page.locator("#swimlanes svg rect").count() > 0
    assert "regressed against the run before" in page.locator("#trend").inner_text()
    page.locator("#first-failure").screenshot(path=str(shots / "failing-first-failure.png"))
    page.locator("#matrix").screenshot(path=str(shots / "failing-matrix.png"))
    page.screenshot(path=str(shots / "failing-top.png"))

    filter_box = page.locator("#finding-filter-box")
    assert filter_box.is_visible()  # the script ran and revealed it
    items = page.locator("#findings-list details.finding")
    assert items.count() == 4
    page.fill("#finding-filter", "dropped_response")
    assert page.locator("#findings-list details.finding:visible").count() == 1
    assert page.locator("#finding-filter-count").inner_text() == "1 of 4 shown"
    assert page.locator("#findings-list .finding-group:visible").count() == 1  # the empty kind hides too
    page.fill("#finding-filter", "")
    assert page.locator("#findings-list details.finding:visible").count() == 4
    page.locator("#findings").screenshot(path=str(shots / "failing-findings.png"))
    assert opened.errors == []
    assert opened.requests == [opened.url]
    opened.close()


def test_inconclusive_report_says_what_would_make_it_conclusive(browser, tmp_path, shots):
    opened = Opened(browser, _report(tmp_path, "inc", samples.inconclusive()))
    text = opened.page.locator("#verdict").inner_text()
    assert "INCONCLUSIVE" in text and "To make it conclusive:" in text
    opened.page.locator("#verdict").screenshot(path=str(shots / "inconclusive-banner.png"))
    assert opened.errors == []
    opened.close()


def test_grouped_matrix_drills_down_to_users(browser, tmp_path, shots):
    opened = Opened(browser, _report(tmp_path, "big", samples.huge(users=400, events=40_000, findings=10)))
    page = opened.page
    assert page.locator("#drill-panel").is_hidden()
    page.locator("#matrix td.leak a").first.click()
    panel = page.locator("#drill-panel")
    assert panel.is_visible()
    assert panel.locator("td.leak").count() >= 1
    assert "→" in panel.inner_text()
    page.locator("#matrix").screenshot(path=str(shots / "grouped-matrix-drill.png"))
    panel.locator("button").click()
    assert panel.is_hidden()
    assert opened.errors == []
    opened.close()


def test_hostile_server_content_stays_inert(browser, tmp_path, shots):
    opened = Opened(browser, _report(tmp_path, "hostile", samples.hostile()))
    page = opened.page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    # Open every finding so that anything hidden inside them gets parsed and laid out too.
    page.evaluate("document.querySelectorAll('details').forEach(function (d) { d.open = true; })")
    page.fill("#finding-filter", "script")
    page.fill("#finding-filter", "")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 2
    assert samples.PAYLOAD in page.locator("#first-failure").inner_text()
    assert samples.PAYLOAD in page.locator("#incidents").inner_text()  # the incidents table: text too
    assert page.locator("#matrix td.content").count() >= 1
    assert opened.dialogs == [] and opened.errors == []
    assert opened.requests == [opened.url]  # <img src=x> was never created, so never fetched
    page.locator("#first-failure").screenshot(path=str(shots / "hostile-first-failure.png"))
    opened.close()


def test_essentials_are_readable_without_javascript(browser, tmp_path, shots):
    opened = Opened(browser, _report(tmp_path, "nojs", samples.failing()), javascript=False)
    page = opened.page
    assert "FAIL" in page.locator("#verdict").inner_text()
    assert page.locator("#first-failure pre.raw").first.is_visible()
    assert page.locator("#matrix td.leak").first.is_visible()
    assert page.locator("#finding-filter-box").is_hidden()
    page.locator("#findings-list details.finding summary").first.click()
    assert page.locator("#findings-list details.finding pre.explanation").first.is_visible()
    page.screenshot(path=str(shots / "nojs-top.png"))
    opened.close()


def test_failing_report_shows_the_incidents_and_marks_content_leaks(browser, tmp_path, shots):
    verdict = samples.failing()
    opened = Opened(browser, _report(tmp_path, "incidents", verdict))
    page = opened.page
    table = page.locator("#incidents table.incidents")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == len(verdict["incidents"])
    first = verdict["incidents"][0]
    assert f"{first['owner']} → {first['receiver']}" in table.inner_text()
    content = page.locator("#matrix td.content")
    assert content.count() == 1 and "✉" in content.inner_text()
    assert "content leak" in (content.get_attribute("title") or "")
    page.locator("#incidents").screenshot(path=str(shots / "failing-incidents.png"))
    assert opened.errors == []
    opened.close()
