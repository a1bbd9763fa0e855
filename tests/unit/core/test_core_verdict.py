"""``decide``: the verdict's precedence, tested alone; the verdict is frozen; one exit-code map."""

from __future__ import annotations

import dataclasses

import pytest

from xtalk.core.verdict import Counts, Decision, Threshold, decide, exit_code_of, freeze


def counts(**over: object) -> Counts:
    base: dict[str, object] = {"anomalies": {"cross_user_event": 0}, "limits": {}, "sent": 10, "completed": 10,
                               "failed": 0, "unknown": 0, "dropped": 0, "overlapping_pairs": 3}
    base.update(over)
    return Counts(**base)  # type: ignore[arg-type]


def test_a_clean_conclusive_run_passes() -> None:
    assert decide(counts(), ()) == (Decision.PASS, (), None)


def test_an_anomaly_over_its_limit_fails_whatever_else_went_wrong() -> None:
    decision, reasons, inconclusive = decide(
        counts(anomalies={"cross_user_event": 2}, completed=0, interrupted="SIGTERM", broken_count=1), ())
    assert decision is Decision.FAIL and inconclusive is None
    assert reasons[0] == "cross_user_event: 2 found (limit 0)"
    assert "interrupted SIGTERM" in reasons[1]  # said, but the leak decides


def test_an_anomaly_within_its_limit_does_not_fail() -> None:
    assert decide(counts(anomalies={"cross_user_event": 2}, limits={"cross_user_event": 2}), ())[0] is Decision.PASS


@pytest.mark.parametrize("over, why", [
    ({"completed": 0}, "no request completed"),
    ({"overlapping_pairs": 0}, "no two users"),
    ({"broken": ("no end record",), "broken_count": 1}, "breaks the checker's assumptions"),
    ({"interrupted": "SIGINT"}, "interrupted"),
])
def test_runs_that_could_not_show_a_leak_are_inconclusive_and_say_why(over: dict[str, object], why: str) -> None:
    decision, reasons, inconclusive = decide(counts(**over), ())
    assert decision is Decision.INCONCLUSIVE and inconclusive is not None
    assert why in inconclusive.reason and inconclusive.advice and reasons == (inconclusive.reason,)


def test_a_failed_threshold_fails_a_conclusive_run_only() -> None:
    slow = Threshold("latency.agent_completed.p95", 1.0, 2.5, False)
    assert decide(counts(), (slow,))[0] is Decision.FAIL
    assert decide(counts(completed=0), (slow,))[0] is Decision.INCONCLUSIVE


def test_exit_codes_come_from_one_map_and_unknown_verdicts_are_harness_errors() -> None:
    assert [exit_code_of(v) for v in ("pass", "fail", "inconclusive", "garbage")] == [0, 1, 2, 3]


def test_a_verdict_cannot_be_changed_after_it_is_built() -> None:
    from tests.histories import clean_pair

    h, _, _ = clean_pair()
    verdict = h.end(at=40.0).check()
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.decision = Decision.FAIL  # type: ignore[misc]
    with pytest.raises(TypeError):
        verdict.details["coverage"]["users"] = 99  # type: ignore[index]
    first = verdict.to_dict()
    first["verdict"] = "fail"
    assert verdict.to_dict()["verdict"] == "pass"  # every dict is a fresh copy


def test_frozen_data_keeps_its_values() -> None:
    frozen = freeze({"a": [1, {"b": 2}]})
    assert frozen["a"][1]["b"] == 2 and isinstance(frozen["a"], tuple)
