"""What an interrupted run's verdict says, and how xtalk run's signal handling behaves."""

from __future__ import annotations

import os
import signal

import pytest

from xtalk.report import samples
from xtalk.runner.interrupt import Interruption, Interrupts, RunInterrupted, mark_interrupted


def test_an_interrupted_clean_run_is_inconclusive_and_the_reason_says_it_was_interrupted() -> None:
    verdict = mark_interrupted(samples.clean(), Interruption("SIGTERM", at=12.34, drain=3.0))
    assert verdict["verdict"] == "inconclusive"
    assert verdict["inconclusive"]["reason"].startswith("the run was interrupted by SIGTERM 12.3 s after the load")
    assert "re-run it without interrupting it" in verdict["inconclusive"]["advice"]
    assert verdict["reasons"][0] == verdict["inconclusive"]["reason"]
    assert verdict["run"]["interrupted"] == "SIGTERM"


def test_an_interrupted_run_that_failed_only_a_threshold_is_inconclusive_not_fail() -> None:
    failing = samples.clean()
    failing.update(verdict="fail", reasons=["threshold latency.agent_completed.p95: observed 9, limit 5"])
    verdict = mark_interrupted(failing, Interruption("SIGINT"))
    assert verdict["verdict"] == "inconclusive"
    assert verdict["reasons"][1].startswith("threshold latency")  # still said, no longer deciding


def test_an_interrupted_run_that_found_an_anomaly_still_fails_and_says_it_was_interrupted() -> None:
    verdict = mark_interrupted(samples.failing(), Interruption("SIGTERM"))
    assert verdict["verdict"] == "fail"
    assert any("interrupted by SIGTERM" in r for r in verdict["reasons"])
    assert verdict["run"]["interrupted"] == "SIGTERM"


def test_the_original_verdict_is_left_as_it_was() -> None:
    original = samples.clean()
    mark_interrupted(original, Interruption("SIGTERM"))
    assert original["verdict"] == "pass" and "interrupted" not in original["run"]


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
