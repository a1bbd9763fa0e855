"""Judging a selftest run: recall, precision, and runs that proved nothing."""

from __future__ import annotations

from typing import Any

from xtalk.backend.faults import FAULTS
from xtalk.backend.proof import ALL_PROBES, CASES, Case, clean_case, clean_probes_case, judge

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


def test_the_faults_only_a_probe_reveals_run_with_probes_on() -> None:
    by_fault = {c.fault: c for c in CASES}
    assert "expired_token = true" in by_fault["accept_bad_tokens"].probes
    assert "spoofed_user_id = true" in by_fault["trust_client_ids"].probes
    assert all(not c.probes for c in CASES if c.fault not in ("accept_bad_tokens", "trust_client_ids"))


def test_a_probe_case_holds_only_if_its_probes_ran_to_their_end() -> None:
    case = Case("accept_bad_tokens", probes=("expired_token = true",))
    ran = [{"kind": "probe", "probe": "start"}, {"kind": "probe", "probe": "end"}]
    assert judge(case, verdict(probe_violation=1), ACT, [], 1, ran).ok
    j = judge(case, verdict(probe_violation=1), ACT, [], 1, ran[:1])
    assert not j.ok and "did not run to their end" in j.notes[0]


def test_the_clean_probes_case_runs_every_probe_and_must_report_nothing() -> None:
    case = clean_probes_case()
    assert case.name == "clean_probes" and case.probes == ALL_PROBES
    ran = [{"kind": "probe", "probe": "end"}]
    assert judge(case, verdict(), [], [], 0, ran).ok
    assert not judge(case, verdict(protocol_error=2), [], [], 1, ran).ok
    assert not judge(case, verdict(), [], [], 0, []).ok
