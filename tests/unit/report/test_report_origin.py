"""The report of a minimal reproducer links back to the run it was shrunk from."""

from __future__ import annotations

import copy

from xtalk.report import samples
from xtalk.report.html import render_report
from xtalk.report.origin import origin_info


def _shrunk(**origin: object) -> dict:
    verdict = copy.deepcopy(samples.failing())
    verdict["run"]["shrunk_from"] = origin
    return verdict


def test_a_shrunk_run_links_to_the_original_runs_report() -> None:
    verdict = _shrunk(run_id="20250918-020000-golden_path", report="../../20250918-020000-golden_path/report.html",
                      run_dir="/srv/reports/20250918-020000-golden_path", kind="cross_user_event", users=40,
                      run_time=30.0)
    html = render_report(verdict, [])
    assert '<p class="origin" id="shrunk-from">Minimal reproducer of <code>cross_user_event</code>' in html
    assert '<a href="../../20250918-020000-golden_path/report.html">20250918-020000-golden_path</a>' in html
    assert "40 users, 30 s of load" in html


def test_a_run_that_was_not_shrunk_has_no_origin_line() -> None:
    assert origin_info(samples.failing()) is None
    assert 'id="shrunk-from"' not in render_report(samples.failing(), [])


def test_an_origin_is_escaped_and_only_a_relative_path_becomes_a_link() -> None:
    for report in ("javascript:alert(1)", "https://evil.example/x", "/etc/passwd", "//evil.example/x"):
        html = render_report(_shrunk(run_id="<b>x</b>", report=report, kind="<i>k</i>"), [])
        line = html[html.index('id="shrunk-from"'):].split("</p>")[0]
        assert "<a " not in line and "<b>" not in line and "<i>" not in line
        assert "&lt;b&gt;x&lt;/b&gt;" in line
    html = render_report(_shrunk(run_id="r", report='a" onmouseover="x.html'), [])
    assert 'onmouseover="' not in html
