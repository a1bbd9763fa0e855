"""sweep.html: self-contained, escaped, one point and one interval bar per measured level."""

from __future__ import annotations

import re
from pathlib import Path

from xtalk.sweep.html import render_sweep
from xtalk.sweep.levels import LevelRun, group

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _levels() -> list:
    return group([
        LevelRun(1, 1, Path("/r/level-0001-run-1"), 2, 5.0, "inconclusive", sent=6, overlapping_pairs=0),
        LevelRun(2, 1, Path("/r/level-0002-run-1"), 1, 5.0, "fail", sent=10, leaked=2, overlapping_pairs=1),
        LevelRun(4, 1, Path("/r/level-0004-run-1"), 1, 5.0, "fail", sent=20, leaked=8, overlapping_pairs=6),
        LevelRun(8, 1, Path("/r/level-0008-run-1"), 3, 1.0, "error", error=HOSTILE),
    ])


def test_the_page_plots_each_measured_level_with_its_interval_and_the_curve() -> None:
    page = render_sweep(_levels(), {"scenario": "golden_path", "host": "against http://127.0.0.1:9"}, base="/r")
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('<circle class="point') == 3  # the level that gave no verdict has no point
    assert svg.count('<g class="level"') == 3 and svg.count('class="ci"') == 9  # a bar and two caps each
    assert re.search(r'<polyline class="curve" points="[\d., ]+"', svg)
    assert "onset" in svg and "onset: 2 users" in page
    assert 'href="level-0002-run-1/report.html"' in page  # run folders linked relative to the page


def test_the_page_loads_nothing_and_escapes_every_outside_text() -> None:
    page = render_sweep(_levels(), {"scenario": HOSTILE, "description": HOSTILE, "host": HOSTILE}, base="/r")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "default-src 'none'" in page
    assert "://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_a_sweep_without_any_measured_level_still_renders() -> None:
    page = render_sweep(group([LevelRun(2, 1, Path("x"), 3, 1.0, "error", error="boom")]), {})
    assert "onset: none up to 2 users" in page and "<svg" in page and "boom" in page
