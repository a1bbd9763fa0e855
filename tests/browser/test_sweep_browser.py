"""sweep.html in a real browser (Debian's headless Chromium through Playwright): the curve, its
points and interval bars are visible, the page logs no error and fetches nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xtalk.sweep.html import render_sweep
from xtalk.sweep.levels import LevelRun, group

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


def _sweep_page(folder: Path) -> Path:
    runs = [
        LevelRun(1, 1, folder / "level-0001-run-1", 2, 9.0, "inconclusive", sent=14, overlapping_pairs=0),
        LevelRun(2, 1, folder / "level-0002-run-1", 1, 35.0, "fail", sent=16, leaked=3, overlapping_pairs=1),
        LevelRun(4, 1, folder / "level-0004-run-1", 1, 36.0, "fail", sent=30, leaked=11, overlapping_pairs=6),
        LevelRun(8, 1, folder / "level-0008-run-1", 1, 37.0, "fail", sent=52, leaked=31, overlapping_pairs=28),
    ]
    page = folder / "sweep.html"
    page.write_text(render_sweep(group(runs), {"scenario": "golden_path <b>x</b>", "host": "against legacy"},
                                 base=str(folder)), encoding="utf-8")
    return page


def test_the_sweep_page_shows_the_leak_curve_with_its_intervals(browser, tmp_path: Path) -> None:
    path = _sweep_page(tmp_path)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    url = path.resolve().as_uri()
    page.goto(url, wait_until="load")
    try:
        plot = page.locator("#sweep-plot")
        assert plot.is_visible()
        curve = page.locator("#sweep-plot polyline.curve")
        assert curve.is_visible()
        box = curve.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50  # it rises across the plot
        assert page.locator("#sweep-plot circle.point").count() == 4
        assert page.locator("#sweep-plot line.ci").count() == 12
        assert page.locator("#sweep-plot .onset-line").count() == 1  # a vertical line: no area to be "visible"
        assert page.locator("#sweep-plot .onset-label").is_visible()
        assert page.locator("#onset").inner_text().startswith("onset: 2 users")
        assert page.locator("#levels tbody tr").count() == 4
        assert "golden_path <b>x</b>" in page.locator("h1").inner_text()  # shown as text, not markup
        page.screenshot(path=str(tmp_path / "sweep.png"), full_page=True)
    finally:
        context.close()
    assert errors == []
    assert requests == [url]  # nothing but the file itself
