"""The terminal summary: short, plain, and it says what a reader checks first."""

from xtalk.report import samples
from xtalk.report.summary import format_summary


def test_clean_run_summary_says_pass_and_the_counts():
    text = format_summary(samples.clean())
    first = text.splitlines()[0]
    assert first.startswith("xtalk verdict: PASS")
    assert "sent 240" in text and "completed 238" in text and "unknown 2" in text
    assert "users 20" in text and "events 1,680" in text and "overlapping user pairs 190" in text
    assert "anomalies" not in text  # zero counts are not listed


def test_failing_run_summary_lists_nonzero_anomalies_failed_thresholds_and_first_explanation():
    verdict = samples.failing()
    text = format_summary(verdict)
    assert text.startswith("xtalk verdict: FAIL")
    assert "cross_user_event 3" in text and "dropped_response 1" in text
    assert "identity_mismatch" not in text
    assert "latency.agent_completed.p95 failed: observed 6.2, limit 5.0" in text
    assert "first finding:" in text
    assert verdict["findings"][0]["explanation"].splitlines()[1].strip() in text


def test_inconclusive_summary_gives_reason_and_advice():
    text = format_summary(samples.inconclusive())
    assert text.startswith("xtalk verdict: INCONCLUSIVE")
    assert "why        no request completed" in text
    assert "to fix     check that the host answers start_agent" in text


def test_summary_of_an_empty_verdict_does_not_raise_and_says_unknown():
    text = format_summary({})
    assert text.startswith("xtalk verdict: UNKNOWN")
    assert "users —" in text


def test_summary_of_wrongly_typed_values_renders_what_is_valid():
    text = format_summary({"verdict": "pass", "requests": {"sent": "many", "completed": 3}, "anomalies": [],
                           "findings": "x", "thresholds": [None, {"ok": False}]})
    assert "completed 3" in text and "sent" not in text


def test_summary_strips_terminal_escapes_from_server_text():
    verdict = samples.failing()
    verdict["findings"][0]["explanation"] = "evil \x1b]0;pwned\x07 title"
    assert "\x1b" not in format_summary(verdict)


def test_summary_is_short():
    assert len(format_summary(samples.huge(users=500, events=10_000, findings=50)).splitlines()) < 30
