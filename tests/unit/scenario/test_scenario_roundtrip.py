"""Property: any valid scenario survives scenario.json (to_dict → JSON → from_dict) unchanged."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from xtalk.scenario import scenario_from_dict, scenario_to_dict
from xtalk.core.anomaly import ANOMALY_KINDS
from xtalk.scenario.catalog import PHASES
from xtalk.scenario.model import ENGINE_PATHS
from xtalk.scenario.validate import build_scenario

durations = st.one_of(st.integers(1, 7200), st.sampled_from(["30s", "5m", "1.5s", "1h30m", "250ms"]))
engine = st.sampled_from(ENGINE_PATHS + ("default", "matrix", "per_user"))
step = st.fixed_dictionaries(
    {"kind": st.sampled_from(["start_agent", "user_message"]),
     "prompt": st.sampled_from(["hi {user}", "req {n} of {journey}", "plain {{braces}}"])},
    optional={"think_time": st.one_of(durations, st.tuples(st.just(0), durations).map(list))},
)
journey = st.fixed_dictionaries(
    {"weight": st.integers(1, 5), "engine": engine, "tabs": st.integers(1, 4),
     "step": st.lists(step, max_size=3)},
)
shape = st.one_of(
    st.fixed_dictionaries({"kind": st.sampled_from(["constant", "ramp", "steps", "spike", "soak"])}),
    st.fixed_dictionaries({"kind": st.just("spike"), "base": st.floats(0, 1), "at": st.just("30%"),
                           "length": durations}),
    st.fixed_dictionaries({"kind": st.just("steps"), "steps": st.integers(1, 10)}),
)
thresholds = st.fixed_dictionaries(
    {},
    optional={
        "anomalies": st.dictionaries(st.sampled_from(ANOMALY_KINDS), st.integers(0, 9), max_size=3),
        "latency": st.dictionaries(st.sampled_from(PHASES),
                                   st.dictionaries(st.sampled_from(["p50", "p95", "p99"]), durations, min_size=1),
                                   max_size=3),
        "completion_ratio": st.floats(0, 1),
        "connection_error_ratio": st.floats(0, 1),
    },
)
documents = st.fixed_dictionaries(
    {
        "run": st.fixed_dictionaries(
            {"users": st.integers(1, 5000), "spawn_rate": st.floats(0.1, 1000), "run_time": durations,
             "seed": st.integers(0, 2**31), "engines": st.permutations(ENGINE_PATHS).map(lambda p: list(p[:2]))}),
        "check": st.fixed_dictionaries({"deadline": durations}, optional={"drain": st.integers(0, 60)}),
        "journey": st.lists(journey, min_size=1, max_size=3).map(
            lambda js: [{**j, "name": f"j{i}"} for i, j in enumerate(js)]),
        "shape": shape,
        "thresholds": thresholds,
        "probes": st.fixed_dictionaries({"foreign_thread": st.booleans(), "reconnect_storm": st.integers(0, 50)}),
    }
)


@settings(max_examples=150, deadline=None)
@given(documents)
def test_any_valid_scenario_survives_the_json_round_trip(doc: dict[str, Any]) -> None:
    s = build_scenario(doc, source="generated.toml")
    assert scenario_from_dict(json.loads(json.dumps(scenario_to_dict(s)))) == s
    assert s.shape.stages[-1][0] == s.run_time
