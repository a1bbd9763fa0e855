"""Property tests: histories of a correct server pass; one injected fault fails with exactly its
kind; live and offline checking agree; no input, however broken, makes the checker raise.

The model (``tests.property.model``) simulates a correct Netra-like server under arbitrary
interleavings of 2–6 users; every choice it makes is a Hypothesis draw, so a failing example
shrinks to a small history (two users, one request each, the fewest events), printed with the
example. Run with ``HYPOTHESIS_PROFILE=thorough`` for 500 examples per property (the default
``ci`` profile runs 100).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from tests.property.model import FAULTS, Model, faulty, models
from tests.property.soup import line_soups
from xtalk.core.anomaly import ANOMALY_KINDS
from xtalk.core.checker import CheckConfig, Checker
from xtalk.core.records import parse_record
from xtalk.history import check_files, check_lines
from xtalk.profiles.netra import NETRA

if TYPE_CHECKING:
    from xtalk.core.verdict import Verdict


def _config() -> CheckConfig:
    return CheckConfig(profile=NETRA)


def _check(model: Model) -> Verdict:
    return check_lines(model.lines(), _config())


def _nonzero(v: Verdict) -> dict[str, int]:
    return {k: n for k, n in v.to_dict()["anomalies"].items() if n}


def _explain(model: Model, v: Verdict) -> None:
    """Shown with a failing (shrunk) example: the history, then the first findings."""
    note("\n".join(f"{i:3d} {line.decode()}" for i, line in enumerate(model.lines(), start=1)))
    note("\n\n".join(f["explanation"] for f in v.to_dict()["findings"][:5]))


def _sound(v: Verdict) -> dict[str, Any]:
    """What every verdict is, whatever the input."""
    data = v.to_dict()
    assert data["verdict"] in ("pass", "fail", "inconclusive")
    assert v.verdict == data["verdict"]
    assert v.exit_code == {"pass": 0, "fail": 1, "inconclusive": 2}[data["verdict"]]
    assert set(ANOMALY_KINDS) <= set(data["anomalies"])
    assert all(isinstance(n, int) and n >= 0 for n in data["anomalies"].values())
    assert orjson.loads(orjson.dumps(data)) == data
    return data


def _live(lines: list[bytes]) -> dict[str, Any]:
    """Record by record, as a Locust worker feeds the core."""
    checker = Checker(_config())
    for number, text in enumerate(lines, start=1):
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            obj = None
        checker.feed(parse_record(obj, number, text.decode("utf-8", "replace")))
    return checker.finish().to_dict()


# ---- a correct server passes; one fault fails with exactly its kind ---------------------


@given(model=models())
def test_a_correct_server_under_any_interleaving_passes_with_zero_anomalies(model: Model) -> None:
    v = _check(model)
    _explain(model, v)
    assert _nonzero(v) == {}
    assert v.verdict == "pass", v.to_dict()["reasons"]
    data = v.to_dict()
    assert data["requests"]["sent"] == len(model.reqs)
    assert data["requests"]["completed"] == sum(r.outcome == "ok" for r in model.reqs)
    assert data["requests"]["unknown"] == sum(r.outcome == "open" for r in model.reqs)


@pytest.mark.parametrize("fault", sorted(FAULTS))
@given(data=st.data())
def test_one_injected_fault_fails_the_run_with_exactly_its_kind(fault: str, data: st.DataObject) -> None:
    model, kind = data.draw(faulty(fault), label="history")
    assume(kind is not None)
    v = _check(model)
    _explain(model, v)
    assert _nonzero(v) == {kind: 1}
    assert v.verdict == "fail" and v.exit_code == 1


@given(data=st.data())
def test_live_feeding_and_offline_checking_give_the_same_verdict(data: st.DataObject) -> None:
    fault = data.draw(st.sampled_from([None, *sorted(FAULTS)]), label="fault")
    model, _ = data.draw(faulty(fault), label="history")
    lines = model.lines()
    assert _live(lines) == check_lines(lines, _config()).to_dict()


# ---- no input makes the checker raise ----------------------------------------------------


@given(blob=st.binary(max_size=2048))
def test_any_bytes_as_a_history_file_give_a_verdict(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.jsonl"
        path.write_bytes(blob)
        _sound(check_files([path]))


@given(lines=line_soups())
def test_any_soup_of_records_and_garbage_gives_a_verdict_and_json_soups_the_same_one_live(lines: list[bytes]) -> None:
    """A correct history with lines dropped and others inserted (mutated records, record-shaped
    objects, any JSON, any bytes, cut records): never an exception, always a sound verdict; and
    when every line is JSON (what a live worker can be fed), the same verdict record by record."""
    note("\n".join(f"{i:3d} {line!r}" for i, line in enumerate(lines, start=1)))
    offline = _sound(check_lines(lines, _config()))
    if all(_is_json(line) for line in lines):
        assert _live(lines) == offline


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True
