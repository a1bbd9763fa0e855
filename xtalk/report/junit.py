"""``junit.xml``: one test case per anomaly kind and per threshold, for CI dashboards.

Layout (what Jenkins, GitLab and GitHub test reporters read): one ``<testsuite name="xtalk">`` in a
``<testsuites>`` root. Class ``xtalk.anomalies`` holds one case per kind, all thirteen of SPEC.md
always present; a case fails when its count exceeds its allowed count (the verdict's threshold for
that kind, else 0), and its failure text quotes the first findings' explanations. Class
``xtalk.thresholds`` holds one case per threshold, failing when ``ok`` is false. Class ``xtalk.run``
holds one case, ``conclusive``, which errors when the verdict is inconclusive or missing, so a run
that proved nothing is never shown green.

Invariant: the output is well-formed XML 1.0 whatever the verdict holds: ElementTree escapes, and
``xml_text`` drops the characters XML forbids.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from xtalk.report import view
from xtalk.report.text import xml_text

_EXPLANATIONS = 3
_BODY_LIMIT = 20_000


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items() if v is not None})
    if text:
        element.text = xml_text(text[:_BODY_LIMIT])
    return element


def _kind_failure_text(verdict: dict[str, Any], kind: str) -> str:
    chunks = []
    for finding in view.findings(verdict):
        if finding.get("kind") == kind:
            chunks.append(view.as_str(finding.get("explanation")) or f"{kind} (no explanation recorded)")
            if len(chunks) == _EXPLANATIONS:
                break
    return "\n\n".join(chunks)


def render_junit(verdict: dict[str, Any]) -> str:
    """The JUnit XML document as text (with an XML declaration)."""
    run = view.run_info(verdict)
    cases: list[tuple[str, str, str | None, str | None, str | None]] = []  # class, name, outcome, message, body

    for kind, count in view.anomaly_counts(verdict).items():
        limit = view.anomaly_limit(verdict, kind)
        if count is None:
            cases.append(("xtalk.anomalies", kind, "skipped", "the verdict does not count this kind", None))
        elif count > limit:
            message = f"{count} {kind} (allowed {limit})"
            cases.append(("xtalk.anomalies", kind, "failure", message, _kind_failure_text(verdict, kind)))
        else:
            cases.append(("xtalk.anomalies", kind, None, None, None))

    for threshold in view.thresholds(verdict):
        message = f"observed {threshold.observed}, limit {threshold.limit}"
        outcome = "failure" if threshold.ok is False else ("skipped" if threshold.ok is None else None)
        cases.append(("xtalk.thresholds", threshold.name, outcome, message if outcome else None, None))

    word = view.verdict_word(verdict)
    if word in ("pass", "fail"):
        cases.append(("xtalk.run", "conclusive", None, None, None))
    else:
        reason, advice = view.inconclusive(verdict)
        message = reason or ("the verdict is missing or unreadable" if word == "unknown" else "inconclusive")
        cases.append(("xtalk.run", "conclusive", "error", message, advice))

    root = ET.Element("testsuites")
    suite = _element(
        root,
        "testsuite",
        name="xtalk",
        tests=len(cases),
        failures=sum(1 for c in cases if c[2] == "failure"),
        errors=sum(1 for c in cases if c[2] == "error"),
        skipped=sum(1 for c in cases if c[2] == "skipped"),
        time=view.as_float(run.get("duration")) or 0.0,
        timestamp=view.as_str(run.get("started_at")),
    )
    properties = _element(suite, "properties")
    facts: tuple[tuple[str, object], ...] = (
        ("verdict", word),
        ("run_id", view.as_str(run.get("id"))),
        ("scenario", view.scenario_name(verdict)),
        ("users", view.as_int(verdict.get("users"))),
        ("events", view.as_int(verdict.get("events"))),
        *((f"requests.{k}", v) for k, v in view.requests(verdict).items()),
        ("recheck", view.as_str(verdict.get("recheck"))),
    )
    for key, value in facts:
        if value is not None:
            _element(properties, "property", name=key, value=value)
    for classname, case_name, outcome, case_message, body in cases:
        case = _element(suite, "testcase", classname=classname, name=case_name, time=0)
        if outcome == "failure":
            _element(case, "failure", body, message=case_message, type=case_name)
        elif outcome == "error":
            _element(case, "error", body, message=case_message, type="inconclusive")
        elif outcome == "skipped":
            _element(case, "skipped", None, message=case_message)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
