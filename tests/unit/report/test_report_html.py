"""report.html: structure, every part present, and server text kept inert."""

import json
import re
from html.parser import HTMLParser

from xtalk.report import samples, trend
from xtalk.report.html import render_report
from xtalk.report.view import ANOMALY_KINDS


class _Page(HTMLParser):
    """Collects tags, attributes, ids, script blocks and the visible text of a page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.ids, self.scripts, self.text = [], set(), [], []
        self._script = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if "id" in dict(attrs):
            self.ids.add(dict(attrs)["id"])
        if tag == "script":
            self._script = [dict(attrs), ""]

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(tuple(self._script))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script[1] += data
        else:
            self.text.append(data)

    @property
    def visible(self):
        return " ".join(self.text)


def _page(verdict, rows=()):
    return _Page(render_report(verdict, list(rows)))


def test_clean_report_has_every_section_and_a_pass_banner():
    page = _page(samples.clean())
    for anchor in ("verdict", "coverage", "anomalies", "matrix", "latency", "engines", "findings", "unknowns",
                   "trend", "recheck"):
        assert anchor in page.ids
    banner = next(a for t, a in page.tags if a.get("id") == "verdict")
    assert "pass" in banner["class"].split()
    assert "Users stayed isolated." in page.visible
    assert "first-failure" not in page.ids and "swimlanes" not in page.ids


def test_every_anomaly_kind_is_listed_with_its_count():
    text = render_report(samples.failing(), [])
    for kind in ANOMALY_KINDS:
        assert f"<code>{kind}</code>" in text
    assert re.search(r"<tr class=bad><td><code>cross_user_event</code></td><td class=\"num\">3</td>", text)


def test_failing_report_shows_the_first_failure_with_its_raw_frames():
    verdict = samples.failing()
    page = _page(verdict)
    assert "first-failure" in page.ids and "swimlanes" in page.ids
    first = verdict["findings"][0]
    assert first["explanation"].splitlines()[1] in page.visible
    assert '"run_id": "' + first["run_id"] + '"' in page.visible
    assert "line 1200 · recv" in page.visible


def test_small_matrix_is_full_with_leaking_cells_red():
    verdict = samples.failing(users=10, leaks=1)
    owner, receiver, count = verdict["matrix"]["cells"][-1]
    text = render_report(verdict, [])
    assert text.count('<td class="leak') == 1
    assert text.count('<td class="own"') == 10
    assert f"{receiver} received {count} event(s) of {owner}&#39;s requests" in text


def test_large_matrix_is_grouped_with_a_drill_down_and_data_for_it():
    verdict = samples.huge(users=400, events=40_000, findings=20)
    page = _page(verdict)
    data_blocks = [body for attrs, body in page.scripts if attrs.get("type") == "application/json"]
    assert len(data_blocks) == 1
    data = json.loads(data_blocks[0])["matrix"]
    assert len(data["users"]) == 400 and len(data["groups"]) == 40
    leaks = [c for c in data["cells"] if c[0] != c[1]]
    assert len(leaks) == len({(f["owner"], f["user"]) for f in verdict["findings"]})
    assert "drill-panel" in page.ids
    assert any(i.startswith("drill-") and i != "drill-panel" for i in page.ids)


def test_inconclusive_banner_says_why_and_what_would_make_it_conclusive():
    page = _page(samples.inconclusive())
    assert "Nothing could be concluded" in page.visible
    assert "no request completed" in page.visible
    assert "To make it conclusive:" in page.visible


def test_latency_charts_mark_findings_and_draw_percentile_lines():
    text = render_report(samples.failing(), [])
    assert text.count('class="chart"') == 3
    assert text.count('class="mark"') >= 4 * 3
    assert text.count("<polyline") == 9


def test_findings_are_searchable_and_the_search_box_is_hidden_without_script():
    page = _page(samples.failing())
    box = next(a for t, a in page.tags if a.get("id") == "finding-filter-box")
    assert "hidden" in box
    details = [a for t, a in page.tags if t == "details" and "finding" in a.get("class", "")]
    assert len(details) == 4 + 1  # four in the list, one in the first-failure section


def test_findings_beyond_the_cap_are_counted_not_rendered():
    verdict = samples.huge(users=200, events=20_000, findings=600)
    text = render_report(verdict, [])
    assert "100 more findings in verdict.json are not shown here." in text


def test_trend_rows_show_regressions_and_mark_the_current_run(tmp_path):
    db = tmp_path / "t.sqlite"
    trend.append_run(db, samples.clean(run_id="r1"))
    current = samples.failing(run_id="r2")
    trend.append_run(db, current)
    page = _page(current, trend.read_runs(db, "nightly_isolation"))
    assert "1 run(s) regressed against the run before." in page.visible
    assert "▲ verdict pass → fail; cross_user_event 0 → 3; dropped_response 0 → 1" in page.visible
    assert any(t == "tr" and a.get("class") == "current" for t, a in page.tags)


def test_recheck_command_is_shown():
    verdict = samples.clean()
    assert verdict["recheck"] in _page(verdict).visible


def test_page_loads_nothing_from_the_network():
    text = render_report(samples.failing(), [])
    csp = next(a["content"] for t, a in _Page(text).tags if a.get("http-equiv") == "Content-Security-Policy")
    assert csp.startswith("default-src 'none';")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text


def test_only_the_report_script_may_run_by_its_hash():
    import base64
    import hashlib

    page = _page(samples.failing())
    code = [body for attrs, body in page.scripts if "type" not in attrs]
    assert len(code) == 1
    digest = base64.b64encode(hashlib.sha256(code[0].encode()).digest()).decode()
    csp = next(a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy")
    assert f"script-src 'sha256-{digest}'" in csp


def test_hostile_server_text_stays_text():
    verdict = samples.hostile()
    page = _page(verdict)
    # No element the payload would create: one code script plus one data block, no img, no on* attribute.
    assert [t for t, _ in page.tags].count("script") == 2
    assert "img" not in [t for t, _ in page.tags]
    assert not [(t, k) for t, a in page.tags for k in a if k.lower().startswith("on")]
    # ... and the payload is visible as text (users see what the server sent).
    assert samples.PAYLOAD in page.visible
    data = next(body for attrs, body in page.scripts if attrs.get("type") == "application/json")
    assert "<" not in data


def test_host_credentials_never_reach_the_report():
    text = render_report(samples.hostile(), [])
    assert "secret" not in text and "user:" not in text


def test_empty_and_malformed_verdicts_render():
    for verdict in ({}, {"verdict": 3, "anomalies": None, "matrix": {"cells": [[1], None, ["a", "b", "x"]]},
                         "latency": {"series": [[None, "p", 1], "x"], "phases": {"p": 3}},
                         "swimlanes": {"u": [[None], "x", [1.0]]}, "findings": [None, {"frames": [None]}],
                         "engines": {"e": None}, "unknowns": [None], "thresholds": [{"name": "x"}]}):
        page = _page(verdict)
        assert "verdict" in page.ids
    assert "UNKNOWN" in _page({}).visible


def test_client_errors_and_broken_assumptions_are_shown_in_coverage():
    verdict = samples.inconclusive()
    verdict["client_errors"] = {"connect": 3, "login": 0}
    verdict["broken_assumptions"] = ["the history has no end record"]
    page = _page(verdict)
    assert "connect 3" in page.visible and "login 0" not in page.visible
    assert "the history has no end record" in page.visible


def test_findings_are_marked_on_swimlanes_even_without_lane_data():
    verdict = samples.failing()
    verdict["swimlanes"] = {}
    page = _page(verdict)
    assert "swimlanes" in page.ids
    marks = [a for t, a in page.tags if t == "path" and a.get("class") == "finding-mark"]
    assert len(marks) == len(verdict["findings"])


def test_raw_frames_stop_at_the_size_budget_but_explanations_do_not():
    verdict = samples.huge(users=200, events=20_000, findings=400)
    big = "x" * 7_000
    for finding in verdict["findings"]:
        for frame in finding["frames"]:
            frame["record"]["frame"]["pad"] = big
    text = render_report(verdict, [])
    assert len(text) < 10_000_000
    assert "Witness records omitted to keep this page small" in text
    assert text.count('<pre class="explanation">') == 400 + 1


def test_content_leak_cells_are_marked_as_content_in_the_matrix():
    verdict = samples.failing(users=10, leaks=3)
    (owner, receiver, n), = verdict["matrix"]["content"]
    page = _page(verdict)
    cells = [a for t, a in page.tags if t == "td" and "leak" in a.get("class", "").split()]
    content = [a for a in cells if "content" in a["class"].split()]
    assert len(cells) == 3 and len(content) == 1
    assert content[0]["title"].endswith(f"{n} of them carrying {owner}'s content (a content leak)")
    assert "1 pair(s) received their owner's content" in page.visible


def test_incidents_table_lists_owner_receiver_run_events_and_first_witness():
    verdict = samples.failing(users=10, leaks=3)
    page = _page(verdict)
    assert "incidents" in page.ids
    assert f"{verdict['incident_count']} incident(s)" in page.visible
    first = verdict["incidents"][0]
    row = f"{first['owner']} → {first['receiver']}"
    assert row in page.visible and first["run_id"] in page.visible
    assert ", ".join(str(n) for n in first["first_witness"]) in page.visible
    text = render_report(verdict, [])
    assert text.count("<tr><td><span class=\"badge kind\">") >= len(verdict["incidents"])


def test_the_incident_count_stays_exact_when_the_list_is_capped():
    verdict = samples.huge(users=200, events=20_000, findings=600)
    page = _page(verdict)
    assert "600 incident(s)" in page.visible and "the first 500 by time are listed" in page.visible


def test_a_verdict_without_incidents_draws_no_incident_section_and_one_with_none_says_so():
    old = samples.failing()
    del old["incidents"], old["incident_count"]
    assert "incidents" not in _page(old).ids
    assert "No incident" in _page(samples.clean()).visible


def test_the_header_names_one_locust_process_or_the_workers():
    local = samples.clean()
    local["run"].update(workers=1, distributed=False)
    assert "one Locust process" in _page(local).visible and "workers 0" not in _page(local).visible
    spread = samples.clean()
    spread["run"].update(workers=4, distributed=True)
    assert "4 workers" in _page(spread).visible
