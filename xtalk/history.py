"""Reading history files (``xtalk.history/1``) and checking them offline.

One file is read in its own order, and witnesses are its line numbers. Several files (the shards
of a distributed run, one per Locust worker) are merged by time into one stream, read from the
shards as it is checked (nothing is copied to disk); the per-shard ``end`` records become one
``end`` at the latest time, after everything else. Witnesses are then line numbers in that merged
stream (``xtalk check`` of the same shards gives the same numbers), and each finding also says
where each witness line lives: ``witness_at`` = ``[[shard file, line in it], ...]``, from a
``ShardMap`` kept while merging (about one byte per line: which shard it came from).
"""

from __future__ import annotations

import bisect
import gc
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from xtalk.core.checker import Checker
from xtalk.core.verdict import CheckConfig, LatencyLimit, Verdict
from xtalk.errors import UsageError
from xtalk.profiles import get_profile

Line = tuple[float, int, int, bytes, Any, bool]  # (t, shard, line in shard, text, decoded, is an end record)


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
    """The non-blank lines of one shard as (time, shard, line number, text, the decoded line,
    is it an end record?): meta records sort first, a line without a time sorts with them."""
    for number, text in enumerate(read_lines(path), start=1):
        if text.strip():
            obj = _decode(text)
            t = float("-inf")
            end = False
            if obj.__class__ is dict:
                kind = obj.get("kind")
                if kind != "meta":
                    value = obj.get("t")
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        t = float(value)
                    end = kind == "end"
            yield (t, shard, number, text, obj, end)


class ShardMap:
    """Where each line of a merged stream lives: ``locate(n)`` is (shard file, line in it) for
    the merged stream's line ``n`` (1-based), None for a line no shard holds (the merged end).

    Memory is one byte per merged line (which shard it came from) plus a checkpoint of every
    shard's line number each ``STRIDE`` lines and the places where a shard skipped lines (blank
    lines, its own end record): a shard's line number is its last checkpoint or skip plus the
    count of its lines since, which ``bytearray.count`` finds in C."""

    STRIDE = 1 << 16
    NOWHERE = 255  # the merged end record (and any line of a 256th shard or later: not located)

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.shards = bytearray()
        self.last = [0] * len(names)  # each shard's line number of its latest merged line
        self.checkpoints: list[list[int]] = [[0] * len(names)]
        self.skips: list[list[tuple[int, int]]] = [[] for _ in names]  # (merged line, shard line)

    def note(self, shard: int, number: int) -> None:
        """The next merged line is line ``number`` of ``shard`` (-1: of no shard)."""
        shards = self.shards
        if len(shards) % self.STRIDE == 0 and shards:
            self.checkpoints.append(list(self.last))
        if shard < 0 or shard >= self.NOWHERE:
            shards.append(self.NOWHERE)
            return
        shards.append(shard)
        if number != self.last[shard] + 1:
            self.skips[shard].append((len(shards), number))
        self.last[shard] = number

    def locate(self, line: int) -> tuple[str, int] | None:
        if not 1 <= line <= len(self.shards):
            return None
        shard = self.shards[line - 1]
        if shard == self.NOWHERE:
            return None
        index = (line - 1) // self.STRIDE
        origin, number = index * self.STRIDE, self.checkpoints[index][shard]
        skips = self.skips[shard]
        at = bisect.bisect_right(skips, (line, float("inf"))) - 1
        if at >= 0 and skips[at][0] > origin:
            origin, number = skips[at]  # the skip's own line: its number is known
        return self.names[shard], number + self.shards.count(shard, origin, line)


def merged_lines(paths: list[Path], shard_map: ShardMap | None = None) -> Iterator[bytes]:
    """Every line of the shards in time order; one end record (the latest) last. ``shard_map``,
    when given, is told where each line it yields comes from."""
    if len(paths) == 1:
        yield from read_lines(paths[0])
        return
    for text, _ in _merged(paths, shard_map):
        yield text


def _merged(paths: list[Path], shard_map: ShardMap | None) -> Iterator[tuple[bytes, Any]]:
    """The merged lines of several shards with their decoded records (each line is decoded once,
    for its time, and handed on so that the checker need not decode it again)."""
    ends: list[dict[str, Any]] = []
    note = shard_map.note if shard_map is not None else None
    for _, shard, number, text, obj, end in heapq.merge(*(read_shard(p, i) for i, p in enumerate(paths))):
        if end:
            ends.append(obj)
            continue
        if note is not None:
            note(shard, number)
        yield text, obj
    if len(ends) == len(paths):
        if note is not None:
            note(-1, 0)
        end_record = {
            "kind": "end",
            "t": max(float(e.get("t") or 0.0) for e in ends),
            "drain": max(float(e.get("drain") or 0.0) for e in ends),
            "shards": len(paths),
        }
        text = orjson.dumps(end_record)
        yield text, orjson.loads(text)


def check_lines(lines: Iterable[bytes], config: CheckConfig) -> Verdict:
    """Check history lines (numbered from 1, blank ones skipped but counted).

    The cyclic garbage collector is paused meanwhile: the checker's tables and the decoded lines
    hold no reference cycles (reference counting frees everything), but they hold hundreds of
    thousands of containers, and the collector's full passes over them cost a third of the time."""
    checker = Checker(config)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check(checker, lines)
    finally:
        if collecting:
            gc.enable()


def _check_decoded(pairs: Iterable[tuple[bytes, Any]], config: CheckConfig) -> Verdict:
    """``check_lines`` of lines decoded already (the merge decodes each line for its time)."""
    checker = Checker(config)
    feed = checker.feed_decoded
    collecting = gc.isenabled()
    gc.disable()
    try:
        for number, (text, obj) in enumerate(pairs, start=1):
            feed(obj, number, text)
        return checker.finish()
    finally:
        if collecting:
            gc.enable()


def _check(checker: Checker, lines: Iterable[bytes]) -> Verdict:
    feed = checker.feed_decoded
    loads = orjson.loads
    for number, text in enumerate(lines, start=1):
        if not text or text.isspace():
            continue
        try:
            obj = loads(text)
        except orjson.JSONDecodeError:
            obj = None
        feed(obj, number, text)  # the line's bytes: content markers are found without decoding it
    return checker.finish()


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


def recorded_profile(path: Path, default: Any) -> Any:
    """The checker's profile named by the history's ``meta`` record (its first line), or
    ``default`` when it names none, or one this install does not know."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 16)
        meta = orjson.loads(first)
    except (OSError, orjson.JSONDecodeError):
        return default
    name = meta.get("profile") if isinstance(meta, dict) and meta.get("kind") == "meta" else None
    if not isinstance(name, str) or not name:
        return default
    try:
        return get_profile(name)
    except Exception:  # an unknown or broken profile file: the default, as without a meta record
        return default


def check_files(
    paths: list[Path] | list[str],
    scenario: Any | None = None,
    *,
    run: dict[str, Any] | None = None,
    recheck: str | None = None,
    merged_out: Path | None = None,
    interrupted: str | None = None,
) -> Verdict:
    """Check recorded history files offline; several shards are merged by time as they are read,
    and each finding's ``witness_at`` says which shard file and line each witness line is.

    ``merged_out`` is accepted for older callers and ignored: the merged stream used to be
    copied there (a full copy of the shards) so that witness numbers pointed into a real file;
    ``witness_at`` now points into the shards themselves."""
    del merged_out
    files = [Path(p) for p in paths]
    if not files:
        raise UsageError("at least one history file", "none", "pass the run folder's history*.jsonl files")
    config = config_for(scenario, run=run, recheck=recheck, interrupted=interrupted)
    if scenario is None:  # no scenario: the profile the history says it was recorded with
        config = replace(config, profile=recorded_profile(files[0], config.profile))
    if len(files) == 1:
        return check_lines(read_lines(files[0]), config)
    shard_map = ShardMap([str(p) for p in files])
    return _check_decoded(_merged(files, shard_map), replace(config, locate=shard_map.locate))
