"""junit.xml: a case per anomaly kind and per threshold, well-formed whatever the verdict holds."""

import xml.etree.ElementTree as ET

from xtalk.report import samples
from xtalk.report.junit import render_junit
from xtalk.report.view import ANOMALY_KINDS


def _cases(verdict):
    root = ET.fromstring(render_junit(verdict).encode("utf-8"))
    suite = root.find("testsuite")
    return suite, {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}


def test_every_anomaly_kind_has_a_case_even_when_the_verdict_lacks_it():
    _, cases = _cases({"verdict": "pass", "anomalies": {"cross_user_event": 0}})
    assert {name for cls, name in cases if cls == "xtalk.anomalies"} == set(ANOMALY_KINDS)
    assert cases[("xtalk.anomalies", "cross_user_event")].find("skipped") is None
    assert cases[("xtalk.anomalies", "dropped_response")].find("skipped") is not None


def test_clean_run_has_no_failures():
    suite, cases = _cases(samples.clean())
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert len(cases) == len(ANOMALY_KINDS) + 2 + 1  # every kind, two thresholds, conclusiveness
    assert suite.get("tests") == str(len(cases))


def test_kind_over_its_limit_fails_with_the_explanation():
    suite, cases = _cases(samples.failing())
    failure = cases[("xtalk.anomalies", "cross_user_event")].find("failure")
    assert failure is not None
    assert failure.get("message") == "3 cross_user_event (allowed 0)"
    assert "cross-user leak" in failure.text
    assert cases[("xtalk.anomalies", "identity_mismatch")].find("failure") is None
    assert cases[("xtalk.thresholds", "latency.agent_completed.p95")].find("failure") is not None
    assert cases[("xtalk.thresholds", "completion_ratio")].find("failure") is None
    assert suite.get("failures") == "3"


def test_without_anomaly_limits_a_threshold_named_after_the_kind_sets_its_allowed_count():
    verdict = samples.failing()
    del verdict["anomaly_limits"]
    verdict["thresholds"].append({"name": "anomalies.dropped_response", "limit": 1, "observed": 1, "ok": True})
    _, cases = _cases(verdict)
    assert cases[("xtalk.anomalies", "dropped_response")].find("failure") is None


def test_inconclusive_run_is_an_error_not_a_pass():
    suite, cases = _cases(samples.inconclusive())
    error = cases[("xtalk.run", "conclusive")].find("error")
    assert error is not None and "no request completed" in error.get("message")
    assert suite.get("errors") == "1"


def test_output_is_well_formed_with_markup_and_control_characters_from_the_server():
    verdict = samples.hostile("<x>&\"'\x00\x1b\ufffe]]>")
    verdict["findings"][0]["kind"] = "cross_user_content"
    suite, cases = _cases(verdict)  # parses, or the test fails
    names = [name for _, name in cases]
    assert any(name.startswith("t<x>&") for name in names)


def test_empty_verdict_renders_all_kinds_and_an_inconclusive_error():
    suite, cases = _cases({})
    assert len(cases) == len(ANOMALY_KINDS) + 1
    assert cases[("xtalk.run", "conclusive")].find("error") is not None


def test_the_checkers_anomaly_limits_decide_which_kinds_fail():
    verdict = samples.failing()
    verdict["anomaly_limits"]["cross_user_event"] = 5
    _, cases = _cases(verdict)
    assert cases[("xtalk.anomalies", "cross_user_event")].find("failure") is None
    assert cases[("xtalk.anomalies", "dropped_response")].find("failure") is not None
