"""What a Locust process needs to know about its run, read from the ``XTALK_*`` environment.

``xtalk run`` sets, for every Locust process (docs/ARCHITECTURE.md): ``XTALK_SCENARIO`` (a
``.toml`` scenario or the run folder's resolved ``scenario.json``), ``XTALK_OUT`` (the run
folder), ``XTALK_RUN_ID``, ``XTALK_CLOCK_ZERO``, ``XTALK_SEED`` (and ``XTALK_WORKERS``). A user
running ``locust -f loadtests/locustfile.py`` by hand may set none of them: then the scenario is
the defaults, the run id is made up from the time, and the run folder is ``reports/<run-id>``.

The scenario itself is read and validated by ``xtalk.scenario.load.scenario_from_env``.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from xtalk.client.recorder import clock_zero_from_env
from xtalk.scenario.load import scenario_from_env
from xtalk.scenario.model import Scenario


@dataclass(frozen=True, slots=True)
class RunSettings:
    scenario: Scenario
    out_dir: Path
    run_id: str
    clock_zero: float
    seed: int
    workers: int


def make_run_id(scenario_name: str, now: _dt.datetime | None = None) -> str:
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", scenario_name).strip("_") or "run"
    return f"{stamp}-{safe}"


def read_settings(environ: Mapping[str, str] | None = None) -> RunSettings:
    env = os.environ if environ is None else environ
    scenario = scenario_from_env(env)  # validated; a .toml or the run folder's scenario.json
    run_id = env.get("XTALK_RUN_ID") or make_run_id(scenario.name)
    out = Path(env.get("XTALK_OUT") or Path("reports") / run_id)
    seed_text = env.get("XTALK_SEED")
    seed = int(seed_text) if seed_text and seed_text.lstrip("-").isdigit() else scenario.seed
    workers_text = env.get("XTALK_WORKERS", "")
    workers = int(workers_text) if workers_text.isdigit() else 0
    return RunSettings(scenario, out, run_id, clock_zero_from_env(dict(env)), seed, workers)
