"""Scenarios as data: the model, loading and validating TOML files, and load shapes.

``load_scenario(path, overrides)`` gives a validated, frozen ``Scenario``; ``scenario_from_env()``
gives the one a Locust process was started with; ``target_at(shape, t)`` is the load shape.
"""

from xtalk.scenario.duration import format_duration, parse_duration
from xtalk.scenario.load import (
    ENV_VAR,
    load_scenario,
    scenario_from_dict,
    scenario_from_env,
    scenario_to_dict,
    write_scenario_json,
)
from xtalk.scenario.model import (
    ENGINE_PATHS,
    Auth,
    Backend,
    Journey,
    LatencyThreshold,
    Probes,
    Scenario,
    Shape,
    Step,
    Thresholds,
)
from xtalk.scenario.secrets import read_accounts, read_secret
from xtalk.scenario.shape import peak_users, target_at

__all__ = [
    "ENGINE_PATHS", "ENV_VAR", "Auth", "Backend", "Journey", "LatencyThreshold", "Probes",
    "Scenario", "Shape", "Step", "Thresholds", "format_duration", "load_scenario",
    "parse_duration", "peak_users", "read_accounts", "read_secret", "scenario_from_dict",
    "scenario_from_env", "scenario_to_dict", "target_at", "write_scenario_json",
]
