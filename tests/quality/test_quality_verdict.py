"""Verdict rules: pass / fail / inconclusive, exit codes, exact counts under capped findings,
and the same verdict live (record by record) and offline (from a file)."""

from __future__ import annotations

import orjson

from tests.histories import History, clean_pair, only, two_users_overlapping
from xtalk.core.anomaly import ANOMALY_KINDS
from xtalk.core.checker import Checker
from xtalk.core.records import parse_record
from xtalk.core.verdict import CheckConfig
from xtalk.history import check_files
from xtalk.profiles.netra import NETRA

SPEC_KINDS = [
    "cross_user_event", "cross_user_content", "identity_mismatch", "phantom_event", "dropped_response",
    "incomplete_run", "duplicate_event", "out_of_order", "event_after_completion", "mixed_engine_run",
    "engine_divergence", "protocol_error", "connection_lost",
]


def test_every_spec_kind_is_listed_with_zeros_in_a_clean_verdict() -> None:
    h, a, b = clean_pair()
    data = h.end(at=10.0).check().to_dict()
    assert set(SPEC_KINDS) <= set(data["anomalies"])
    assert set(SPEC_KINDS) <= set(ANOMALY_KINDS)
    assert all(n == 0 for n in data["anomalies"].values())


def test_a_clean_overlapping_run_passes_with_exit_code_0_and_the_spec_fields() -> None:
    h, a, b = clean_pair()
    v = h.end(at=10.0).check()
    data = v.to_dict()
    assert v.verdict == "pass" and v.exit_code == 0
    assert data["schema"] == "xtalk.verdict/1"
    assert {"schema", "verdict", "anomalies", "requests", "users", "events", "thresholds", "findings"} <= set(data)
    assert data["requests"]["sent"] == 2 and data["requests"]["completed"] == 2 and data["requests"]["unknown"] == 0
    assert data["users"] == 2 and data["events"] == 14 and data["findings"] == []
    assert orjson.loads(orjson.dumps(data)) == data  # JSON as it stands


def test_a_run_where_no_request_completed_is_inconclusive_with_exit_code_2() -> None:
    h, a, b = two_users_overlapping()
    v = h.end(at=10.0).check()  # both still in flight, before their deadlines
    assert v.verdict == "inconclusive" and v.exit_code == 2
    assert "no request completed" in v.to_dict()["inconclusive"]["reason"]
    assert v.to_dict()["inconclusive"]["advice"]


def test_a_run_where_no_two_users_were_ever_in_flight_together_is_inconclusive() -> None:
    h = History()
    h.user("alice", at=0.1).user("bob", at=0.2)
    a = h.ask("alice", at=1.0)
    h.answer(a, at=1.1)
    b = h.ask("bob", at=2.0)
    h.answer(b, at=2.1)
    v = h.end(at=10.0).check()
    assert v.verdict == "inconclusive" and v.exit_code == 2
    assert v.to_dict()["coverage"]["overlapping_user_pairs"] == 0
    assert "in flight at the same time" in v.to_dict()["inconclusive"]["reason"]


def test_a_single_user_run_is_inconclusive() -> None:
    h = History()
    h.user("alice", at=0.1)
    a1 = h.ask("alice", at=1.0)
    a2 = h.ask("alice", at=1.01)
    h.answer(a1, at=1.1)
    h.answer(a2, at=1.2)
    assert h.end(at=10.0).check().verdict == "inconclusive"


def test_a_history_without_an_end_record_is_inconclusive() -> None:
    h, a, b = clean_pair()
    v = h.check()
    assert v.verdict == "inconclusive" and v.exit_code == 2
    assert "end record" in v.to_dict()["inconclusive"]["reason"]


def test_a_history_whose_time_runs_backwards_is_inconclusive() -> None:
    h, a, b = clean_pair()
    h.end(at=10.0)
    lines = h.lines()
    lines.insert(5, orjson.dumps({"kind": "recv", "t": 0.001, "user": "bob", "conn": "bob-c1",
                                  "frame": {"type": "heartbeat"}}))
    from xtalk.history import check_lines
    v = check_lines(lines, CheckConfig(profile=NETRA))
    assert v.verdict == "inconclusive"


def test_a_leak_fails_the_run_even_when_the_run_is_otherwise_inconclusive() -> None:
    h, a, b = two_users_overlapping()
    h.recv("bob", h.frames(a)[0], at=1.2)  # nothing completes, but a leak is a leak
    v = h.end(at=10.0).check()
    assert v.verdict == "fail" and v.exit_code == 1
    assert only(v) == {"cross_user_event": 1}


def test_an_anomaly_within_its_scenario_limit_does_not_fail_the_run() -> None:
    h, a, b = clean_pair()
    h.raw("bob", "garbage", at=1.5)
    h.end(at=10.0)
    assert h.check().verdict == "fail"
    v = h.check(anomaly_limits={"protocol_error": 1})
    assert v.verdict == "pass" and v.to_dict()["anomalies"]["protocol_error"] == 1


def test_findings_are_capped_but_counts_stay_exact() -> None:
    h, a, b = clean_pair()
    for i in range(30):
        h.raw("bob", f"garbage {i}", at=round(2.0 + i * 0.01, 6))
    v = h.end(at=10.0).check(findings_cap=5)
    data = v.to_dict()
    assert data["anomalies"]["protocol_error"] == 30
    assert len([f for f in data["findings"] if f["kind"] == "protocol_error"]) == 5
    assert {"kind": "protocol_error", "count": 30, "shown": 5} in data["finding_groups"]


def test_every_finding_names_its_kind_witness_and_explanation_with_line_numbers() -> None:
    h, a, b = clean_pair()
    h.recv("bob", h.frames(a)[1], at=1.3)
    data = h.end(at=10.0).check().to_dict()
    (f,) = data["findings"]
    assert {"kind", "user", "owner", "run_id", "witness", "explanation"} <= set(f)
    assert all(isinstance(n, int) and n >= 1 for n in f["witness"])
    for n in f["witness"]:
        assert f"line {n}" in f["explanation"]
    assert f["explanation"].startswith("cross_user_event") and "Let" in f["explanation"]


# ---- live and offline agree -------------------------------------------------------------


def _live(lines: list[bytes]) -> dict[str, object]:
    checker = Checker(CheckConfig(profile=NETRA))
    for number, text in enumerate(lines, start=1):
        checker.feed(parse_record(orjson.loads(text), number, text.decode()))
    return checker.finish().to_dict()


def _mixed_bag() -> History:
    h, a, b = clean_pair()
    h.user("carol", at=0.3, welcome_id="demo-user-001")
    c = h.ask("carol", at=1.07)
    h.answer(c, at=1.3, family="emitter")
    h.recv("bob", h.frames(a)[1], at=1.5)
    h.raw("alice", "{trunc", at=1.6)
    a2 = h.ask("alice", at=2.0)
    h.recv("alice", h.frames(a2)[0], at=2.1)
    h.end(at=40.0)
    return h


def test_feeding_records_one_at_a_time_gives_the_verdict_check_files_gives(tmp_path: object) -> None:
    from pathlib import Path

    h = _mixed_bag()
    path = Path(str(tmp_path)) / "history.jsonl"
    path.write_bytes(h.text())
    offline = check_files([path]).to_dict()
    live = _live(h.lines())
    for key in ("run", "recheck"):
        offline.pop(key, None)
        live.pop(key, None)
    assert live == offline
    assert set(only_counts(live)) == {"cross_user_event", "identity_mismatch", "protocol_error", "dropped_response"}


def only_counts(data: dict[str, object]) -> dict[str, int]:
    anomalies = data["anomalies"]
    assert isinstance(anomalies, dict)
    return {k: n for k, n in anomalies.items() if n}


def test_two_shards_merged_by_time_give_the_counts_of_the_single_history(tmp_path: object) -> None:
    from pathlib import Path

    h = _mixed_bag()
    records = h.ordered()
    body, end = records[:-1], records[-1]
    shard_a = [r for r in body if r.get("user") in (None, "alice")]
    shard_b = [r for r in body if r.get("user") not in (None, "alice")]
    root = Path(str(tmp_path))
    (root / "history-w1.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in shard_a + [end]))
    (root / "history-w2.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in shard_b + [end]))
    merged = check_files([root / "history-w1.jsonl", root / "history-w2.jsonl"]).to_dict()
    single = h.check().to_dict()
    assert merged["anomalies"] == single["anomalies"]
    assert merged["requests"] == single["requests"]
    assert merged["verdict"] == single["verdict"]
