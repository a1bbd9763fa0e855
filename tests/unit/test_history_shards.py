"""Shards checked together: merged by time as they are read, no copy on disk, and every witness
says which shard file and line it is (``witness_at``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

from tests.histories import History, clean_pair
from xtalk.history import ShardMap, check_files, merged_lines


def _split(h: History, root: Path) -> list[Path]:
    """alice's records in one shard, everyone else's in another, both ending with the end record."""
    records = h.ordered()
    body, end = records[:-1], records[-1]
    meta = {"kind": "meta", "schema": "xtalk.history/1", "profile": "netra"}
    shards = [
        [meta] + [r for r in body if r.get("user") == "alice"] + [end],
        [meta] + [r for r in body if r.get("user") != "alice"] + [end],
    ]
    paths = []
    for i, records_of_shard in enumerate(shards):
        path = root / f"history-{i}.jsonl"
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records_of_shard))
        paths.append(path)
    return paths


def _leak_across_shards() -> History:
    h, a, b = clean_pair()
    h.recv("bob", h.frames(a)[1], at=1.5)  # one of alice's events reaches bob, on the other shard
    h.end(at=40.0)
    return h


def _line(path: str, number: int) -> bytes:
    return Path(path).read_bytes().split(b"\n")[number - 1]


def test_a_merged_check_writes_no_copy_of_the_shards(tmp_path: Path) -> None:
    paths = _split(_leak_across_shards(), tmp_path)
    merged_out = tmp_path / "merged-history.jsonl"
    verdict = check_files(paths, merged_out=merged_out)
    assert verdict.verdict == "fail"
    assert not merged_out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history-0.jsonl", "history-1.jsonl"]


def test_every_witness_of_a_merged_check_points_at_that_line_of_its_shard(tmp_path: Path) -> None:
    paths = _split(_leak_across_shards(), tmp_path)
    merged = list(merged_lines(paths))
    data = check_files(paths).to_dict()
    leaks = [f for f in data["findings"] if f["kind"] == "cross_user_event"]
    assert leaks
    for finding in data["findings"]:
        assert len(finding["witness_at"]) == len(finding["witness"])
        for number, (path, line) in zip(finding["witness"], finding["witness_at"]):
            assert _line(path, line) == merged[number - 1]  # the merged line, where a person can open it
        for frame in finding["frames"]:
            path, line = frame["at"]
            assert orjson.loads(_line(path, line)).get("frame", frame["record"]) == frame["record"]
    files = {Path(path).name for f in leaks for path, _ in f["witness_at"]}
    assert files == {"history-0.jsonl", "history-1.jsonl"}  # alice's send, bob's receipt


def test_incidents_of_a_merged_check_say_where_their_first_witness_is(tmp_path: Path) -> None:
    paths = _split(_leak_across_shards(), tmp_path)
    merged = list(merged_lines(paths))
    data = check_files(paths).to_dict()
    assert data["incidents"]
    for incident in data["incidents"]:
        for number, (path, line) in zip(incident["first_witness"], incident["first_witness_at"]):
            assert _line(path, line) == merged[number - 1]


def test_a_single_history_file_needs_no_witness_places(tmp_path: Path) -> None:
    h = _leak_across_shards()
    data = h.check_file(tmp_path / "history.jsonl").to_dict()
    assert data["findings"] and all("witness_at" not in f for f in data["findings"])
    assert all("first_witness_at" not in i for i in data["incidents"])


def _shards(rng: random.Random, root: Path, trial: int) -> list[Path]:
    paths = []
    for shard in range(rng.randint(2, 5)):
        lines = [orjson.dumps({"kind": "meta", "schema": "xtalk.history/1", "worker": str(shard)})]
        t = 0.0
        for i in range(rng.randint(0, 200)):
            if rng.random() < 0.05:
                lines.append(b"")  # blank lines keep their numbers in the shard
                continue
            t += rng.random()
            record: dict[str, Any] = {"kind": "recv", "t": round(t, 6), "user": f"u{shard}", "conn": "c",
                                      "frame": {"type": "x", "i": i, "shard": shard}}
            lines.append(orjson.dumps(record))
        if rng.random() < 0.8:
            lines.append(orjson.dumps({"kind": "end", "t": t + 1, "drain": 0}))
        path = root / f"h{trial}-{shard}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        paths.append(path)
    return paths


def test_the_shard_map_locates_every_merged_line_with_blank_lines_and_any_checkpoint_stride(tmp_path: Path) -> None:
    rng = random.Random(11)
    for trial in range(40):
        paths = _shards(rng, tmp_path, trial)
        shard_map = ShardMap([str(p) for p in paths])
        shard_map.STRIDE = rng.choice([1, 2, 7, 64, 1 << 16])
        merged = list(merged_lines(paths, shard_map))
        for number, text in enumerate(merged, start=1):
            place = shard_map.locate(number)
            if orjson.loads(text)["kind"] == "end":
                assert place is None  # the merged end record is no shard's line
            else:
                assert place is not None and _line(*place) == text
        assert shard_map.locate(0) is None and shard_map.locate(len(merged) + 1) is None


def _without_places(data: dict[str, Any]) -> dict[str, Any]:
    for finding in data["findings"]:
        finding.pop("witness_at", None)
        for frame in finding["frames"]:
            frame.pop("at", None)
    for incident in data["incidents"]:
        incident.pop("first_witness_at", None)
    return data


def test_a_merged_check_gives_the_verdict_of_checking_the_merged_lines(tmp_path: Path) -> None:
    """``check_files`` hands the merge's decoded records on (each line decoded once): the same
    verdict as checking the merged lines as text, witness places aside."""
    from xtalk.history import check_lines, config_for

    paths = _split(_leak_across_shards(), tmp_path)
    streamed = check_files(paths).to_dict()
    as_text = check_lines(list(merged_lines(paths)), config_for(None)).to_dict()
    assert _without_places(streamed) == as_text
