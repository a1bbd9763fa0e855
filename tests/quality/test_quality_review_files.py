"""Review of issue 10 by an independent reading of SPEC: history files as ``xtalk check`` reads
them — shards of a multi-worker run (``history-<worker>.jsonl``), a torn shard, clock skew
between workers, and line ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.histories import History, clean_pair, findings, only, requests_of, two_users_overlapping
from xtalk.history import check_files

META = {"kind": "meta", "schema": "xtalk.history/1", "profile": "netra", "started_at": "2026-11-22T00:00:00Z",
        "scenario": "test", "seed": 1}


def _shards(root: Path, h: History, *, ends: tuple[bool, bool] = (True, True), skew: float = 0.0,
            cut: int = 0) -> list[Path]:
    """alice's records in one worker's shard, everyone else's in the other's; each shard with its
    own meta and (if asked) end record. ``skew``: seconds the second worker's clock runs ahead;
    ``cut``: bytes cut from the end of the second shard."""
    records = [r for r in h.ordered() if r["kind"] not in ("meta", "end")]
    end_t = max(r["t"] for r in h.records if r["kind"] == "end")
    paths = []
    for n, (mine, with_end) in enumerate(zip((True, False), ends), start=1):
        part = [r for r in records if (r.get("user") == "alice") == mine]
        shift = skew if n == 2 else 0.0
        body: list[dict[str, Any]] = [{**META, "worker": f"w{n}"}]
        body += [{**r, "t": round(r["t"] + shift, 6)} for r in part]
        if with_end:
            body.append({"kind": "end", "t": end_t + shift, "drain": 0.0})
        data = b"".join(orjson.dumps(r) + b"\n" for r in body)
        if n == 2 and cut:
            data = data[:-cut]
        path = root / f"history-w{n}.jsonl"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _leak(tail: bool = False) -> History:
    """alice's thinking reaches bob as well; both answered; the end written. ``tail``: a
    heartbeat to bob after the leak (the record a torn shard loses)."""
    h, a, b = two_users_overlapping()
    frames = h.answer(a, at=1.1)
    h.answer(b, at=1.2)
    h.recv("bob", {**frames[1], "timestamp": "2026-11-22T00:00:40Z"}, at=1.5)
    if tail:
        h.recv("bob", {"type": "heartbeat", "data": {"connection_id": "c_bob-c1", "timestamp": 1758196815.0}}, at=5.0)
    return h.end(at=10.0)


def test_a_leak_between_users_of_two_workers_is_found_in_the_merged_shards(tmp_path: Path) -> None:
    paths = _shards(tmp_path, _leak())
    v = check_files(paths).to_dict()
    assert {k: n for k, n in v["anomalies"].items() if n} == {"cross_user_event": 1}
    (f,) = [f for f in v["findings"] if f["kind"] == "cross_user_event"]
    assert (f["user"], f["owner"]) == ("bob", "alice")
    assert sorted(Path(p).name for p, _ in f["witness_at"]) == ["history-w1.jsonl", "history-w2.jsonl"]
    for shard, line in f["witness_at"]:  # each witness_at names the record in its own shard
        record = orjson.loads(Path(shard).read_bytes().split(b"\n")[line - 1])
        assert record["kind"] in ("send", "recv")


def test_clean_shards_pass_and_give_the_single_historys_counts(tmp_path: Path) -> None:
    h, _, _ = clean_pair()
    h.end(at=10.0)
    v = check_files(_shards(tmp_path, h))
    assert only(v) == {} and v.verdict == "pass"
    assert requests_of(v) == requests_of(h.check())


def test_a_shard_without_its_end_record_makes_the_merged_run_inconclusive(tmp_path: Path) -> None:
    """A worker that died before writing its end: the history breaks the checker's assumptions."""
    h, _, _ = clean_pair()
    h.end(at=10.0)
    v = check_files(_shards(tmp_path, h, ends=(True, False)))
    assert only(v) == {} and v.verdict == "inconclusive"
    assert any("end record" in reason for reason in v.to_dict()["reasons"])


def test_a_torn_shard_is_inconclusive_and_a_leak_in_the_other_still_fails(tmp_path: Path) -> None:
    h, _, _ = clean_pair()
    h.end(at=10.0)
    (tmp_path / "clean").mkdir()
    torn = check_files(_shards(tmp_path / "clean", h, ends=(True, False), cut=25))
    assert only(torn) == {} and torn.verdict == "inconclusive"
    (tmp_path / "leak").mkdir()
    leak = check_files(_shards(tmp_path / "leak", _leak(tail=True), ends=(True, False), cut=25))
    assert leak.verdict == "fail"  # a leak beats inconclusive
    assert only(leak) == {"cross_user_event": 1}


def test_a_leak_is_found_across_workers_whose_clocks_differ_by_a_little(tmp_path: Path) -> None:
    """Worker 2's clock runs 40 ms ahead (within one worker's records never backwards)."""
    paths = _shards(tmp_path, _leak(), skew=0.04)
    v = check_files(paths)
    assert only(v) == {"cross_user_event": 1}
    assert [(f["user"], f["owner"]) for f in findings(v, "cross_user_event")] == [("bob", "alice")]


def test_a_history_with_crlf_line_ends_is_read_as_the_same_records(tmp_path: Path) -> None:
    """Near miss: SPEC splits lines at ``\\n``; the ``\\r`` left before it is JSON whitespace."""
    h = _leak()
    plain = h.check_file(tmp_path / "a.jsonl")
    crlf = h.check_file(tmp_path / "b.jsonl", h.text().replace(b"\n", b"\r\n"))
    assert only(crlf) == only(plain) == {"cross_user_event": 1}
    assert requests_of(crlf) == requests_of(plain)
