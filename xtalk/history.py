"""Reading history files (``xtalk.history/1``) and checking them offline.

One file is read in its own order, and witnesses are its line numbers. Several files (the shards
of a distributed run, one per Locust worker) are merged by time into one stream; the per-shard
``end`` records become one ``end`` at the latest time, after everything else, and witnesses are
line numbers in that merged stream, which ``write_merged`` saves beside the verdict.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from xtalk.core.checker import Checker
from xtalk.core.verdict import CheckConfig, LatencyLimit, Verdict
from xtalk.errors import UsageError
from xtalk.profiles import get_profile

Line = tuple[float, int, int, bytes]  # (t, shard, line in shard, text)


def _decode(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


BLOCK = 1 << 22  # bytes read at a time: splitting big blocks is cheaper than iterating a file


def read_lines(path: Path) -> Iterator[bytes]:
    """The lines of one history file, in order (blank ones too, so that numbers stay the file's),
    without their line ends (``\n``, ``\r\n``)."""
    with _open(path) as handle:
        rest = b""
        while block := handle.read(BLOCK):
            data = rest + block if rest else block
            lines = data.split(b"\n")
            rest = lines.pop()  # the start of a line that goes on in the next block
            if b"\r" in data:
                lines = [line.rstrip(b"\r") for line in lines]
            yield from lines
        if rest:
            yield rest.rstrip(b"\r")


def _open(path: Path) -> Any:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise UsageError(
            "a history file written by xtalk run", f"{path} (no such file)", "pass the history*.jsonl files of a run folder"
        ) from None
    except IsADirectoryError:
        raise UsageError(
            "a history file", f"{path} (a directory)", f"pass the files inside it: {path}/history*.jsonl"
        ) from None
    return handle


def read_shard(path: Path, shard: int) -> Iterator[Line]:
    for number, text in enumerate(read_lines(path), start=1):
        if text.strip():
            yield (_time_of(text), shard, number, text)


def _time_of(text: bytes) -> float:
    obj = _decode(text)
    if isinstance(obj, dict):
        if obj.get("kind") == "meta":
            return float("-inf")
        t = obj.get("t")
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            return float(t)
    return float("-inf")


def merged_lines(paths: list[Path]) -> Iterator[bytes]:
    """Every line of the shards in time order; one end record (the latest) last."""
    if len(paths) == 1:
        yield from read_lines(paths[0])
        return
    ends: list[dict[str, Any]] = []
    metas = 0
    for _, _, _, text in heapq.merge(*(read_shard(p, i) for i, p in enumerate(paths))):
        obj = _decode(text)
        if isinstance(obj, dict) and obj.get("kind") == "end":
            ends.append(obj)
            continue
        if isinstance(obj, dict) and obj.get("kind") == "meta":
            metas += 1
        yield text
    if len(ends) == len(paths):
        yield orjson.dumps(
            {
                "kind": "end",
                "t": max(float(e.get("t") or 0.0) for e in ends),
                "drain": max(float(e.get("drain") or 0.0) for e in ends),
                "shards": len(paths),
            }
        )


def check_lines(lines: Iterable[bytes], config: CheckConfig) -> Verdict:
    """Check history lines (numbered from 1, blank ones skipped but counted).

    The cyclic garbage collector is paused meanwhile: the checker's tables and the decoded lines
    hold no reference cycles (reference counting frees everything), but they hold hundreds of
    thousands of containers, and the collector's full passes over them cost a third of the time."""
    checker = Checker(config)
    feed = checker.feed_decoded
    loads = orjson.loads
    collecting = gc.isenabled()
    gc.disable()
    try:
        for number, text in enumerate(lines, start=1):
            if not text or text.isspace():
                continue
            try:
                obj = loads(text)
            except orjson.JSONDecodeError:
                obj = None
            feed(obj, number, text)  # the line's bytes: content markers are found without decoding it
        return checker.finish()
    finally:
        if collecting:
            gc.enable()


def config_for(scenario: Any | None, *, run: dict[str, Any] | None = None, recheck: str | None = None,
               interrupted: str | None = None) -> CheckConfig:
    """The checker's settings from a scenario (``xtalk.scenario.model.Scenario``) or defaults:
    without a scenario every anomaly kind has limit 0 and there are no latency thresholds."""
    if scenario is None:
        return CheckConfig(profile=get_profile("netra"), run=run or {}, recheck=recheck, interrupted=interrupted)
    thresholds = scenario.thresholds
    return CheckConfig(
        profile=get_profile(scenario.profile),
        deadline=scenario.deadline,
        drain=scenario.drain_window,
        anomaly_limits=dict(thresholds.anomalies),
        latency=tuple(LatencyLimit(t.phase, int(t.percentile), float(t.limit)) for t in thresholds.latency),
        completion_ratio=thresholds.completion_ratio,
        connection_error_ratio=thresholds.connection_error_ratio,
        run=run or {},
        recheck=recheck,
        interrupted=interrupted,
    )


def check_files(
    paths: list[Path] | list[str],
    scenario: Any | None = None,
    *,
    run: dict[str, Any] | None = None,
    recheck: str | None = None,
    merged_out: Path | None = None,
    interrupted: str | None = None,
) -> Verdict:
    """Check recorded history files offline; with several shards, merge them by time first
    (and save the merged stream to ``merged_out`` so that witnesses point into a real file)."""
    files = [Path(p) for p in paths]
    if not files:
        raise UsageError("at least one history file", "none", "pass the run folder's history*.jsonl files")
    config = config_for(scenario, run=run, recheck=recheck, interrupted=interrupted)
    lines: Iterable[bytes] = merged_lines(files)
    if merged_out is not None and len(files) > 1:
        lines = _tee(lines, merged_out)
    return check_lines(lines, config)


def _tee(lines: Iterable[bytes], path: Path) -> Iterator[bytes]:
    with path.open("wb") as out:
        for text in lines:
            out.write(text + b"\n")
            yield text
