"""Every server-controlled field reaches report.html only through autoescaped templates (or, in the
page's script, ``textContent``): no element or attribute of the page comes from data.

Two proofs. Dynamically: a verdict whose every string (and every data-named key) is a distinct
payload is rendered and parsed; the page holds no element or attribute the payloads would create.
Statically: no template marks data safe, and the one place that hands templates ready markup is
the SVG chart code, which escapes every value it writes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from xtalk.report import samples, templating
from xtalk.report.html import render_report

REPORT = Path(templating.__file__).resolve().parent
PAYLOAD = ('<x-inj data-inj="{n}" onclick="alert({n})">{n}</x-inj>"\'><x-inj data-inj="{n}b">'
           '</textarea></script><!--&amp;')
#: Dicts whose keys are data (kinds, engine paths, user names, frame fields), not the verdict's own.
DATA_KEYED = {"anomalies", "anomaly_limits", "client_errors", "engines", "swimlanes", "groups", "kinds", "phases",
              "record", "frame", "payload", "data", "results"}


class Poison:
    """Replaces every string with a numbered payload (the same string with the same payload, so a
    user named in a cell and in a finding is still one user), and the keys of data-keyed dicts
    too; numbers, booleans and the verdict's own keys stay, so the renderers still read it."""

    def __init__(self, start: int = 1) -> None:
        self.numbers = count(start)
        self.seen: dict[str, str] = {}

    def text(self, value: str) -> str:
        if value not in self.seen:
            self.seen[value] = PAYLOAD.format(n=next(self.numbers))
        return self.seen[value]

    def __call__(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v, key) for v in value]
        if isinstance(value, dict):
            return {(self.text(k) if key in DATA_KEYED else k): self(v, k) for k, v in value.items()}
        return value


def poison(value: Any, numbers: count | None = None) -> Any:
    return Poison()(value)


class Elements(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"a comment in the page: <!--{data[:80]}")


@pytest.mark.parametrize("build", [samples.hostile, samples.failing, samples.inconclusive,
                                   lambda: samples.huge(users=120, events=12_000, findings=30)],
                         ids=["hostile", "failing", "inconclusive", "grouped"])
def test_a_verdict_whose_every_string_is_a_payload_creates_no_element_or_attribute(build: Any) -> None:
    verdict = poison(build())
    verdict["verdict"] = "fail"  # the one string the renderers switch on: keep the page's full shape
    verdict["schema"] = "xtalk.verdict/1"
    text = render_report(verdict, [])
    page = Elements(text)
    tags = [tag for tag, _ in page.tags]
    assert "x-inj" not in tags and "textarea" not in tags
    assert tags.count("script") == 2  # the page's own script and its JSON data block
    attributes = {name for _, attrs in page.tags for name in attrs}
    assert "data-inj" not in attributes and "onclick" not in attributes
    assert not [name for name in attributes if name.startswith("on")]
    visible = "".join(page.text)
    assert "<x-inj data-inj=" in visible  # the payloads are shown, as text
    data = re.search(r'<script type="application/json" id="xtalk-data">(.*?)</script>', text, re.S)
    assert data is not None and "<" not in data.group(1)


def test_a_payload_in_every_string_of_the_trend_rows_stays_text_too() -> None:
    rows = [poison({"run_id": "r", "started_at": "s", "verdict": "pass", "host": "h", "profile": "p",
                    "anomalies_total": 1, "p95": {}, "completion": 0.9, "regressions": ["x", "y"]})]
    page = Elements(render_report(samples.clean(), rows))
    assert "x-inj" not in [tag for tag, _ in page.tags]


TEMPLATE_MARKERS = ("|safe", "| safe", "Markup", "autoescape false", "{% autoescape", "|e(", "forceescape")


def test_no_template_marks_data_safe_or_turns_autoescape_off() -> None:
    templates = sorted((REPORT / "templates").glob("*.html"))
    assert templates
    for path in templates:
        text = path.read_text()
        for marker in TEMPLATE_MARKERS:
            assert marker not in text, f"{path.name} uses {marker!r}"


def test_the_only_ready_markup_in_the_report_code_is_the_escaped_svg_of_the_charts() -> None:
    for path in sorted(REPORT.glob("*.py")):
        text = path.read_text()
        calls = re.findall(r"\bMarkup\(", text)
        if path.name == "charts.py":
            assert calls, "the charts hand their SVG over as Markup"
        else:
            assert not calls, f"{path.name} builds Markup"
        assert "|safe" not in text and "| safe" not in text, path.name
        assert "autoescape=False" not in text, path.name
    assert "autoescape=True" in (REPORT / "templating.py").read_text()


def test_the_page_assets_are_included_byte_for_byte_so_the_csp_hash_is_the_files() -> None:
    env = templating.environment()
    for name in templating.ASSETS:
        text = (REPORT / name).read_text(encoding="utf-8")
        assert "{{" not in text and "{%" not in text and "{#" not in text, name
        assert env.get_template(name).render() == text, name


def test_the_script_data_block_round_trips_and_nothing_in_it_can_close_it() -> None:
    import json

    verdict = samples.huge(users=60, events=6_000, findings=5)
    evil = "</script><!--\u2028\u2029'&\ud800"
    verdict["matrix"]["users"].append(evil)
    verdict["matrix"]["cells"].append([evil, verdict["matrix"]["users"][0], 2])
    text = render_report(verdict, [])
    block = re.search(r'<script type="application/json" id="xtalk-data">(.*?)</script>', text, re.S)
    assert block is not None and "<" not in block.group(1) and "'" not in block.group(1)
    users = json.loads(block.group(1))["matrix"]["users"]
    assert evil in users
