"""Judging a selftest run: recall, precision, and runs that proved nothing."""

from __future__ import annotations

from typing import Any

from xtalk.backend.faults import FAULTS
from xtalk.backend.proof import CASES, Case, clean_case, judge

ACT = [{"fault": "x", "run_id": "r", "owner": "a", "victim": "b", "t": 1.0, "detail": {}}]


def verdict(**counts: int) -> dict[str, Any]:
    kinds = {"cross_user_event": 0, "dropped_response": 0, "incomplete_run": 0,
             "cross_user_content": 0, "protocol_error": 0, "identity_mismatch": 0}
    kinds.update(counts)
    return {"verdict": "fail" if any(counts.values()) else "pass", "anomalies": kinds}


def test_there_is_a_case_for_every_fault() -> None:
    assert {c.fault for c in CASES} == set(FAULTS)


def test_a_fault_found_with_only_allowed_extras_holds() -> None:
    j = judge(Case("shared_factory"), verdict(cross_user_event=5, dropped_response=2), ACT, [], 1)
    assert j.ok and j.recall == "1/1" and j.incidental == {"dropped_response": 2}


def test_a_missed_kind_fails_the_case() -> None:
    j = judge(Case("drop_run"), verdict(), ACT, [], 0)
    assert not j.ok and j.missing == ("dropped_response",)


def test_an_unexplained_kind_fails_the_case() -> None:
    j = judge(Case("drop_run"), verdict(dropped_response=3, cross_user_event=1), ACT, [], 1)
    assert not j.ok and j.unexpected == {"cross_user_event": 1}


def test_either_reading_of_the_global_router_leak_counts() -> None:
    for kind in ("cross_user_event", "cross_user_content"):
        assert judge(Case("global_router"), verdict(**{kind: 4}), ACT, [], 1).ok
    assert not judge(Case("global_router"), verdict(dropped_response=4), ACT, [], 1).ok


def test_a_fault_that_never_acted_proves_nothing() -> None:
    j = judge(Case("drop_run"), verdict(dropped_response=1), [], [], 1)
    assert not j.ok and "never acted" in j.notes[0]


def test_login_faults_need_the_harness_to_have_recorded_the_refusals() -> None:
    errors = [{"kind": "error", "phase": "login", "status": 401}]
    assert judge(Case("login_401"), verdict(), ACT, errors, 0).ok
    assert not judge(Case("login_401"), verdict(), ACT, [], 0).ok
    assert not judge(Case("login_500"), verdict(), ACT, errors, 0).ok


def test_the_clean_run_must_pass_without_any_anomaly() -> None:
    assert judge(clean_case(), verdict(), [], [], 0).ok
    j = judge(clean_case(), verdict(duplicate_event=1), [], [], 1)
    assert not j.ok and j.unexpected == {"duplicate_event": 1}


def test_a_run_without_a_verdict_fails_its_case() -> None:
    assert not judge(Case("drop_run"), None, ACT, [], 3).ok
