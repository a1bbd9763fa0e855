"""Counting a sweep's levels: leaked requests (exactly, even when findings are capped), the onset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.histories import History
from xtalk.scenario.load import load_scenario, write_scenario_json
from xtalk.sweep.levels import LevelRun, group, leak_keys, leaked_requests, level_run, onset_line
from xtalk.sweep.outputs import format_levels, render_csv


def _verdict(findings: list[dict[str, Any]], *, sent: int = 10, pairs: int = 1, counts: dict[str, int] | None = None,
             word: str = "fail") -> dict[str, Any]:
    anomalies = {"cross_user_event": 0, "cross_user_content": 0, "duplicate_event": 0}
    for f in findings:
        anomalies[f["kind"]] += 1
    anomalies.update(counts or {})
    return {"verdict": word, "anomalies": anomalies, "requests": {"sent": sent},
            "coverage": {"overlapping_user_pairs": pairs}, "findings": findings}


def _leak(kind: str, owner: str, req: str | None, run_id: str | None = "run_1", witness: int = 1) -> dict[str, Any]:
    return {"kind": kind, "user": "u0009", "owner": owner, "req": req, "run_id": run_id, "witness": [witness]}


def test_a_request_whose_events_leaked_counts_once_whatever_the_number_of_its_leaked_events() -> None:
    findings = [_leak("cross_user_event", "u0001", "u0001-r1", witness=i) for i in range(5)]
    findings += [_leak("cross_user_content", "u0001", "u0001-r1"), _leak("cross_user_event", "u0002", "u0002-r4")]
    findings += [{"kind": "duplicate_event", "owner": "u0003", "req": "u0003-r1"}]
    assert leaked_requests(_verdict(findings)) == (2, True)


def test_a_leak_without_a_request_counts_once_per_run_of_its_owner() -> None:
    findings = [_leak("cross_user_event", "u0001", None, "run_7", witness=i) for i in range(3)]
    findings.append(_leak("cross_user_event", "u0001", None, "run_8"))
    assert len(leak_keys(findings)) == 2


def test_capped_findings_make_the_count_a_lower_bound_without_a_history() -> None:
    findings = [_leak("cross_user_event", "u0001", f"u0001-r{i}") for i in range(100)]
    verdict = _verdict(findings, counts={"cross_user_event": 450}, sent=500)
    assert leaked_requests(verdict) == (100, False)


def _leaky_run(folder: Path, leaked_runs: int) -> dict[str, Any]:
    """A two-user history in which every answer to alice goes to bob too: many leaked events."""
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    t = 1.0
    for _ in range(leaked_runs):
        a = h.ask("alice", at=t)
        b = h.ask("bob", at=t + 0.01)
        h.answer(a, at=t + 0.05)
        h.answer(b, at=t + 0.3)
        h.answer(a, at=t + 0.6, to="bob")  # alice's run delivered to bob as well
        t += 1.0
    h.end(at=t + 1.0)
    folder.mkdir()
    (folder / "history.jsonl").write_bytes(h.text())
    write_scenario_json(load_scenario(None), str(folder / "scenario.json"))
    return h.check().to_dict()


def test_capped_findings_are_counted_exactly_by_checking_the_history_again(tmp_path: Path) -> None:
    verdict = _leaky_run(tmp_path / "run", leaked_runs=30)
    total = verdict["anomalies"]["cross_user_event"] + verdict["anomalies"]["cross_user_content"]
    assert total > 100 and leaked_requests(verdict)[1] is False  # the verdict alone cannot tell
    run = level_run(2, 1, tmp_path / "run", 1, 5.0, verdict)
    assert (run.leaked, run.exact) == (30, True)


def test_levels_give_the_rate_the_interval_and_one_onset_line() -> None:
    runs = [
        LevelRun(1, 1, Path("a"), 2, 5.0, "inconclusive", sent=6, leaked=0, overlapping_pairs=0),
        LevelRun(2, 1, Path("b"), 1, 5.0, "fail", sent=10, leaked=2, overlapping_pairs=1),
        LevelRun(2, 2, Path("c"), 1, 5.0, "fail", sent=10, leaked=1, overlapping_pairs=1),
        LevelRun(4, 1, Path("d"), 1, 5.0, "fail", sent=20, leaked=8, overlapping_pairs=6),
    ]
    levels = group(runs)
    assert [lv.users for lv in levels] == [1, 2, 4]
    assert (levels[1].sent, levels[1].leaked, levels[1].rate) == (20, 3, 0.15)
    assert onset_line(levels) == "onset: 2 users"
    table = format_levels(levels)
    assert "15.0 %" in table and "inconclusive" in table
    csv = render_csv(levels).splitlines()
    assert csv[0].startswith("users,runs,requests,leaked_requests,leaked_exact,leak_rate,ci_low,ci_high")
    assert csv[2].startswith("2,2,20,3,true,0.150000,")


def test_no_leak_at_any_level_is_onset_none_up_to_the_highest_level() -> None:
    runs = [LevelRun(n, 1, Path(str(n)), 0, 5.0, "pass", sent=10, overlapping_pairs=n) for n in (4, 1, 2)]
    assert onset_line(group(runs)) == "onset: none up to 4 users"


def test_a_run_without_a_verdict_is_an_error_row_that_counts_nothing() -> None:
    run = level_run(8, 1, Path("x"), 3, 1.0, None, "expected a reachable host but got ...")
    assert (run.verdict, run.sent, run.leaked) == ("error", 0, 0) and run.error
    level = group([run])[0]
    assert level.rate is None and level.interval == (0.0, 1.0) and "—" in format_levels([level])
