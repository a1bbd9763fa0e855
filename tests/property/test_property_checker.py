"""Property tests: histories of a correct server pass; one injected fault fails with exactly its kind.

The model (``tests.property.model``) simulates a correct Netra-like server under arbitrary
interleavings of 2–6 users. Hypothesis draws the model's random source, so every example is a
different interleaving, mix of envelope families, sub-agents, batches, echoes and noise. Run with
``HYPOTHESIS_PROFILE=thorough`` for 500 examples per property (the default ``ci`` profile runs 100).
"""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from tests.property.model import FAULTS, Model, generate
from xtalk.core.checker import Checker
from xtalk.core.records import parse_record
from xtalk.core.verdict import CheckConfig, Verdict
from xtalk.history import check_lines
from xtalk.profiles.netra import NETRA

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _check(model: Model) -> Verdict:
    return check_lines(model.lines(), CheckConfig(profile=NETRA))


def _nonzero(v: Verdict) -> dict[str, int]:
    return {k: n for k, n in v.to_dict()["anomalies"].items() if n}


def _explain(v: Verdict) -> str:
    return "\n\n".join(f["explanation"] for f in v.to_dict()["findings"][:5])


@given(seed=SEEDS)
def test_a_correct_server_under_any_interleaving_passes_with_zero_anomalies(seed: int) -> None:
    model = generate(random.Random(seed))
    model.seed = seed
    v = _check(model)
    note(_explain(v))
    assert _nonzero(v) == {}
    assert v.verdict == "pass", v.to_dict()["reasons"]
    data = v.to_dict()
    assert data["requests"]["sent"] == len(model.reqs)
    assert data["requests"]["completed"] == sum(r.outcome == "ok" for r in model.reqs)
    assert data["requests"]["unknown"] == sum(r.outcome == "open" for r in model.reqs)


@pytest.mark.parametrize("fault", sorted(FAULTS))
@given(seed=SEEDS)
def test_one_injected_fault_fails_the_run_with_exactly_its_kind(fault: str, seed: int) -> None:
    rng = random.Random(seed)
    model = generate(rng, allow_open=fault != "drop")
    kind = FAULTS[fault](model, rng)
    assume(kind is not None)
    v = _check(model)
    note(_explain(v))
    assert _nonzero(v) == {kind: 1}
    assert v.verdict == "fail" and v.exit_code == 1


@given(seed=SEEDS, fault=st.sampled_from([None, *sorted(FAULTS)]))
def test_live_feeding_and_offline_checking_give_the_same_verdict(seed: int, fault: str | None) -> None:
    rng = random.Random(seed)
    model = generate(rng)
    if fault is not None:
        FAULTS[fault](model, rng)
    lines = model.lines()
    checker = Checker(CheckConfig(profile=NETRA))
    for number, text in enumerate(lines, start=1):
        checker.feed(parse_record(orjson.loads(text), number, text.decode()))
    assert checker.finish().to_dict() == check_lines(lines, CheckConfig(profile=NETRA)).to_dict()
