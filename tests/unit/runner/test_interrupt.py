"""What an interrupted run's verdict says, and how xtalk run's signal handling behaves."""

from __future__ import annotations

import os
import signal

import pytest

from tests.histories import History, clean_pair
from xtalk.core.verdict import CheckConfig, LatencyLimit
from xtalk.history import check_lines
from xtalk.profiles.netra import NETRA
from xtalk.runner.interrupt import Interruption, Interrupts, RunInterrupted, describe_interruption


def _interrupted(history: History, how: str | None = None) -> dict[str, object]:
    """The verdict of ``history`` whose end record says it was interrupted (as the Locust
    process writes it on xtalk run's stop signal); ``how`` as xtalk run describes the signal."""
    history.end(at=40.0)
    history.last["interrupted"] = True
    return check_lines(history.lines(), CheckConfig(profile=NETRA, interrupted=how)).to_dict()


def test_an_interrupted_clean_run_is_inconclusive_and_the_reason_says_it_was_interrupted() -> None:
    h, _, _ = clean_pair()
    how = describe_interruption(Interruption("SIGTERM", at=12.34, drain=3.0))
    verdict = _interrupted(h, how)
    assert verdict["verdict"] == "inconclusive"
    assert verdict["inconclusive"]["reason"].startswith("the run was interrupted by SIGTERM 12.3 s after the load")
    assert "re-run it without interrupting it" in verdict["inconclusive"]["advice"]
    assert verdict["reasons"][0] == verdict["inconclusive"]["reason"]
    assert verdict["run"]["interrupted"] == how


def test_the_end_record_alone_makes_a_re_check_inconclusive_too() -> None:
    h, _, _ = clean_pair()
    verdict = _interrupted(h)
    assert verdict["verdict"] == "inconclusive" and "end record says so" in verdict["inconclusive"]["reason"]


def test_an_interrupted_run_that_failed_only_a_threshold_is_inconclusive_not_fail() -> None:
    h, _, _ = clean_pair()
    h.end(at=40.0)
    h.last["interrupted"] = True
    config = CheckConfig(profile=NETRA, interrupted="by SIGINT",
                         latency=(LatencyLimit("agent_completed", 95, 0.000001),))
    verdict = check_lines(h.lines(), config).to_dict()
    assert verdict["verdict"] == "inconclusive"
    assert verdict["reasons"][1].startswith("threshold latency")  # still said, no longer deciding


def test_an_interrupted_run_that_found_an_anomaly_still_fails_and_says_it_was_interrupted() -> None:
    h, a, _ = clean_pair()
    h.answer(a, at=2.0, to="bob")
    verdict = _interrupted(h, "by SIGTERM")
    assert verdict["verdict"] == "fail"
    assert any("interrupted by SIGTERM" in r for r in verdict["reasons"])


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_before_the_load_unwinds_the_run_and_sets_the_exit_status(sig: int, code: int) -> None:
    with Interrupts(write=lambda _: None) as interrupts:
        with pytest.raises(RunInterrupted):
            os.kill(os.getpid(), sig)
            signal.sigtimedwait([], 0)  # let the handler run
    assert interrupts.first == sig and interrupts.exit_code == code
    assert signal.getsignal(sig) is not interrupts._handle  # the previous handler is back


def test_a_signal_during_the_load_calls_the_loads_stop_with_a_count() -> None:
    counts: list[int] = []
    with Interrupts(write=lambda _: None) as interrupts:
        interrupts.on_signal = counts.append
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 0)
    assert counts == [1, 2] and interrupts.exit_code == 143
