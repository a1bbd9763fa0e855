"""``xtalk selftest``'s pieces that need no processes: scenarios it writes, flags, the table."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from xtalk.backend.proof import ALL_PROBES, CASES, Case, clean_case, clean_probes_case, judge
from xtalk.commands.selftest import PASSWORD_ENV, _cases, render_table, scenario_text
from xtalk.errors import UsageError
from xtalk.scenario.load import load_scenario


@pytest.mark.parametrize("case", [clean_case(), Case("login_401", 0.5, login_again=True),
                                  Case("drop_run", 0.1, "factory")], ids=lambda c: c.name)
def test_the_scenarios_it_writes_load_and_say_what_the_case_asks(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(scenario_text(case, seed=5))
    scenario = load_scenario(str(path), environ={PASSWORD_ENV: "pw-for-test"})
    assert scenario.users == case.users and scenario.run_time == case.run_time
    assert scenario.deadline == case.deadline and scenario.seed == 5
    assert scenario.backend.faults == ()  # faults go to xtalk serve, not to the scenario
    if case.login_again:
        assert scenario.auth.password_env == PASSWORD_ENV
        assert "{run}" not in scenario.auth.email  # the accounts exist before the run


def test_the_clean_run_spreads_users_over_three_engine_paths(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(scenario_text(clean_case(), seed=1))
    scenario = load_scenario(str(path))
    assert set(scenario.engines) == {"main", "isolated", "factory"}
    assert scenario.journeys[0].engine == "per_user"


def _args(**kw: object) -> argparse.Namespace:
    base = dict(faults=None, users=None, run_time=None)
    return argparse.Namespace(**{**base, **kw})


def test_probe_cases_write_their_probes_into_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(scenario_text(clean_probes_case(), seed=1))
    probes = load_scenario(str(path)).probes
    assert (probes.foreign_thread, probes.spoofed_user_id, probes.expired_token) == (True, True, True)
    assert probes.connection_limit == 4 and probes.reconnect_storm == 10 and len(ALL_PROBES) == 5
    path.write_text(scenario_text(Case("drop_run", 0.1), seed=1))
    assert not load_scenario(str(path)).probes.expired_token


def test_faults_flag_selects_cases_and_refuses_unknown_names() -> None:
    assert [c.fault for c in _cases(_args(faults="drop_run, shared_factory"))] == [
        "shared_factory", "drop_run"]
    assert [c.name for c in _cases(_args(faults="clean_probes"))] == ["clean_probes"]
    assert len(_cases(_args())) == len(CASES) + 1  # and the clean probes case
    with pytest.raises(UsageError, match="gremlins"):
        _cases(_args(faults="gremlins"))


def test_the_table_shows_recall_and_unexpected_kinds() -> None:
    verdict = {"verdict": "fail", "anomalies": {"dropped_response": 3, "incomplete_run": 1,
                                                "phantom_event": 2}}
    act = [{"fault": "drop_run"}]
    table = render_table([judge(Case("drop_run", 0.1), verdict, act, [], 1)])
    assert "dropped_response=3 (1/1)" in table
    assert "phantom_event=2" in table and "FAIL" in table
