"""The checker's fast paths change nothing: every history gives the same verdict.json, byte for
byte, with the fast paths (the default) and without them (``CheckConfig(reference=True)``: the
pure reference, every stage taking its general path).

The digest is of the whole verdict.json (keys sorted): no field is volatile, because the core
reads no clock and no randomness (hash-seeded tables decide nothing that is written). The
corpora: every history of the quality corpus, the reference backend's recorded ``xtalk
selftest`` runs, recorded Chainlit sessions where present (``tests/differential/corpus.py``),
the bench's generated history, and the property tests' generators (a correct server, each
injected fault, line soups, any bytes), drawn by Hypothesis.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from tests.differential.corpus import bundle, chainlit
from tests.property.model import FAULTS, faulty
from tests.property.soup import line_soups
from xtalk.core.checker import CheckConfig
from xtalk.core.profile import Profile
from xtalk.history import check_files, check_lines, merged_lines, read_lines
from xtalk.profiles.netra import NETRA

QUALITY = bundle("quality.jsonl.gz")
RECORDED = bundle("recorded.jsonl.gz")
CHAINLIT = chainlit()


def _configs(reference: bool, profile: Profile = NETRA) -> list[CheckConfig]:
    """The default settings, and short deadlines with live notes (requests expire, runs are
    decided at their deadline, requests are stripped and forgotten within the history)."""
    return [
        CheckConfig(profile=profile, reference=reference),
        CheckConfig(profile=profile, deadline=0.5, drain=0.2, retention=0.3, tomb_retention_override=1.0,
                    findings_cap=3, notify=True, reference=reference),
    ]


def digest(verdict: Any) -> str:
    return hashlib.sha256(orjson.dumps(verdict.to_dict(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _lines(data: bytes, path: Path) -> list[bytes]:
    path.write_bytes(data)
    return list(read_lines(path))  # as xtalk check reads a file


def assert_same_verdicts(lines: list[bytes], profile: Profile = NETRA) -> None:
    for fast, reference in zip(_configs(False, profile), _configs(True, profile)):
        got, want = check_lines(lines, fast), check_lines(lines, reference)
        assert digest(got) == digest(want), _first_difference(got.to_dict(), want.to_dict())


def _first_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            return f"verdict.json differs at {key!r}: fast {got.get(key)!r:.400} vs reference {want.get(key)!r:.400}"
    return "the digests differ"


def test_the_corpora_are_there() -> None:
    assert len(QUALITY) >= 200  # every quality history (dumped from the quality corpus)
    assert len(RECORDED) >= 10  # a selftest run per fault, and a clean one


@pytest.mark.parametrize(("name", "data"), QUALITY, ids=[name for name, _ in QUALITY])
def test_every_quality_history_gives_the_same_verdict_fast_and_reference(name: str, data: bytes, tmp_path: Path) -> None:
    assert_same_verdicts(_lines(data, tmp_path / name))


@pytest.mark.parametrize(("name", "data"), RECORDED, ids=[name for name, _ in RECORDED])
def test_every_recorded_run_of_the_reference_backend_gives_the_same_verdict(name: str, data: bytes, tmp_path: Path) -> None:
    assert_same_verdicts(_lines(data, tmp_path / "history.jsonl"))


@pytest.mark.skipif(not CHAINLIT, reason="no recorded Chainlit sessions in tests/data/chainlit")
@pytest.mark.parametrize(("name", "data"), CHAINLIT, ids=[name for name, _ in CHAINLIT])
def test_every_chainlit_session_gives_the_same_verdict(name: str, data: bytes, tmp_path: Path) -> None:
    from xtalk.profiles import get_profile

    assert_same_verdicts(_lines(data, tmp_path / name), get_profile("chainlit"))


def test_recorded_shards_merged_give_the_same_verdict(tmp_path: Path) -> None:
    """A run's shards, merged as ``check_files`` merges them (here: the recorded runs taken two
    at a time as if they were two workers' shards of one run)."""
    names = [name for name, _ in RECORDED]
    assert len(names) >= 2
    rng = random.Random(5)
    for _ in range(4):
        first, second = rng.sample(range(len(RECORDED)), 2)
        paths = []
        for i in (first, second):
            path = tmp_path / f"history-{i}.jsonl"
            path.write_bytes(RECORDED[i][1])
            paths.append(path)
        lines = list(merged_lines(paths))
        assert_same_verdicts(lines)
        # check_files streams the shards and hands each decoded line on: the reference's verdict
        # of the merged lines, once witness places (witness_at and the like) are set aside.
        streamed = check_files(paths).to_dict()
        for finding in streamed["findings"]:
            finding.pop("witness_at")
            for frame in finding["frames"]:
                frame.pop("at")
        for incident in streamed["incidents"]:
            incident.pop("first_witness_at")
        reference = check_lines(lines, CheckConfig(profile=NETRA, reference=True)).to_dict()
        assert streamed == reference


def test_the_benchmark_history_gives_the_same_verdict(tmp_path: Path) -> None:
    from benchmarks.bench_checker import generate

    path = tmp_path / "history.jsonl"
    generate(path, 3000, users=40)
    assert_same_verdicts(list(read_lines(path)))


@given(data=st.data())
def test_any_generated_history_gives_the_same_verdict_fast_and_reference(data: st.DataObject) -> None:
    fault = data.draw(st.sampled_from([None, *sorted(FAULTS)]), label="fault")
    model, _ = data.draw(faulty(fault), label="history")
    lines = model.lines()
    note("\n".join(line.decode() for line in lines))
    assert_same_verdicts(lines)


@given(lines=line_soups())
def test_any_soup_of_records_and_garbage_gives_the_same_verdict_fast_and_reference(lines: list[bytes]) -> None:
    assert_same_verdicts(lines)


@given(blob=st.binary(max_size=2048))
def test_any_bytes_give_the_same_verdict_fast_and_reference(blob: bytes) -> None:
    assert_same_verdicts([line for line in blob.split(b"\n")])
