"""Loading scenarios: defaults, overrides, the JSON round trip, the environment, every shipped file."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest

from xtalk.errors import UsageError

from xtalk.scenario import (
    Scenario,
    load_scenario,
    scenario_from_dict,
    scenario_from_env,
    scenario_to_dict,
    write_scenario_json,
)

REPO = pathlib.Path(__file__).resolve().parents[3]
SCENARIOS = sorted((REPO / "scenarios").glob("*.toml"))
STAGING_ENV = {"XTALK_STAGING_HOST": "https://staging.example.test", "XTALK_E2E_BYPASS_KEY": "dummy-key",
               "XTALK_CHAINLIT_PASSWORD": "dummy-password"}


def host_for(path: pathlib.Path) -> dict[str, object]:
    """A host for the scenarios whose profile the embedded reference backend does not speak."""
    return {"host": "http://127.0.0.1:8765"} if 'profile = "chainlit"' in path.read_text() else {}


def test_no_path_gives_the_model_defaults() -> None:
    s = load_scenario(None)
    assert (s.users, s.spawn_rate, s.run_time, s.host, s.path) == (10, 10.0, 30.0, None, None)
    assert s.journeys == Scenario().journeys
    assert s.shape.stages == ((30.0, 10, 10.0),)


def test_overrides_win_over_the_file(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[run]\nusers = 5\nrun_time = "1m"\nseed = 4\n')
    s = load_scenario(str(f), {"users": 7, "run_time": 15.0, "seed": 9, "spawn_rate": 3.5,
                               "host": "http://127.0.0.1:8000/"})
    assert (s.users, s.run_time, s.seed, s.spawn_rate, s.host) == (7, 15.0, 9, 3.5, "http://127.0.0.1:8000")
    assert s.name == "s"  # the file's stem when [run] has no name


def test_none_overrides_are_ignored(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text("[run]\nusers = 5\n")
    assert load_scenario(str(f), {"users": None, "host": None, "run_time": None}).users == 5


def test_run_time_override_takes_duration_text() -> None:
    assert load_scenario(None, {"run_time": "2m"}).run_time == 120.0


def test_host_override_replaces_a_host_taken_from_the_environment(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[run]\nhost_env = "UNSET_HOST_VAR_FOR_TEST"\n')
    s = load_scenario(str(f), {"host": "http://127.0.0.1:9000"}, environ={})
    assert s.host == "http://127.0.0.1:9000"


def test_host_env_reads_the_host_from_the_environment(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[run]\nhost_env = "MY_HOST"\n')
    assert load_scenario(str(f), environ={"MY_HOST": "https://a.example.test/"}).host == "https://a.example.test"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_validates_and_survives_the_json_round_trip(path: pathlib.Path) -> None:
    s = load_scenario(str(path), host_for(path), environ=STAGING_ENV)
    text = json.dumps(scenario_to_dict(s))  # JSON-ready: no tuples or dataclasses left
    assert scenario_from_dict(json.loads(text), environ=STAGING_ENV) == s


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_starts_with_a_comment_block_saying_when_to_use_it(path: pathlib.Path) -> None:
    head = path.read_text().splitlines()[:12]
    assert all(line.startswith("#") or not line.strip() for line in head[:3])
    assert any("When to use it" in line for line in head)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_runs_with_a_short_run_time_override(path: pathlib.Path) -> None:
    s = load_scenario(str(path), {"run_time": "15s", **host_for(path)}, environ=STAGING_ENV)
    assert s.run_time == 15.0 and s.shape.stages[-1][0] == 15.0


def test_the_scenario_set_is_complete() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"golden_path", "nightly_isolation", "burst", "soak", "engine_matrix", "probes",
            "staging_example"} <= names


def test_golden_path_is_50_users_for_30_seconds_on_the_embedded_main_engine() -> None:
    s = load_scenario(str(REPO / "scenarios" / "golden_path.toml"))
    assert (s.users, s.spawn_rate, s.run_time, s.host, s.backend.engine) == (50, 50.0, 30.0, None, "main")
    assert s.journeys[0].steps[0].kind == "start_agent"


def test_nightly_isolation_covers_every_correct_engine_path_within_ten_minutes() -> None:
    s = load_scenario(str(REPO / "scenarios" / "nightly_isolation.toml"))
    assert s.users >= 200
    assert set(s.engines) == {"main", "factory", "isolated"}  # the leaky legacy path is demo_leak's
    assert any(j.engine == "matrix" for j in s.journeys)
    assert s.run_time + s.drain_window <= 600
    assert s.thresholds.latency and s.thresholds.completion_ratio is not None


def test_soak_outlives_its_tokens_and_refreshes_them() -> None:
    s = load_scenario(str(REPO / "scenarios" / "soak.toml"))
    assert s.run_time > s.auth.token_lifetime and s.auth.refresh


def test_burst_is_a_spike() -> None:
    assert load_scenario(str(REPO / "scenarios" / "burst.toml")).shape.kind == "spike"


def test_a_bare_name_finds_the_file_in_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert load_scenario("golden_path").name == "golden_path"


def test_a_bare_name_elsewhere_finds_the_scenario_shipped_with_xtalk(tmp_path: pathlib.Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_scenario("golden_path").name == "golden_path"
    assert load_scenario("demo_leak").backend.engine == "legacy"


def test_a_bare_name_prefers_the_current_folders_scenarios(tmp_path: pathlib.Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "golden_path.toml").write_text('[run]\nname = "our_golden"\nusers = 3\n')
    monkeypatch.chdir(tmp_path)
    assert load_scenario("golden_path").name == "our_golden"


def test_an_unknown_bare_name_lists_the_names_that_exist(tmp_path: pathlib.Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as caught:
        load_scenario("golden_pth")
    assert "golden_pth (no such file)" in caught.value.message and "golden_path" in caught.value.message
    assert "xtalk scenarios" in caught.value.message


def test_the_json_form_is_sectioned_like_the_toml_file() -> None:
    d = scenario_to_dict(load_scenario(None))
    assert {"run", "check", "backend", "auth", "journey", "thresholds", "shape", "probes"} <= set(d)
    assert d["schema"] == "xtalk.scenario/1"


def test_the_asdict_json_form_loads_too() -> None:
    s = load_scenario(None, {"users": 3})
    assert scenario_from_dict(json.loads(json.dumps(dataclasses.asdict(s)))) == s


def test_scenario_from_env_reads_the_resolved_json(tmp_path: pathlib.Path) -> None:
    s = load_scenario(None, {"users": 4, "seed": 77})
    path = tmp_path / "scenario.json"
    write_scenario_json(s, str(path))
    assert scenario_from_env({"XTALK_SCENARIO": str(path)}) == s


def test_scenario_from_env_reads_a_toml_file(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text("[run]\nusers = 3\n")
    assert scenario_from_env({"XTALK_SCENARIO": str(f)}).users == 3


def test_scenario_from_env_without_the_variable_gives_the_defaults() -> None:
    assert scenario_from_env({}) == load_scenario(None)


def test_relative_secret_files_are_taken_from_the_scenario_folder(tmp_path: pathlib.Path) -> None:
    (tmp_path / "key.txt").write_text("not-printed\n")
    f = tmp_path / "s.toml"
    f.write_text('[auth]\nstrategy = "e2e_bypass"\nbypass_key_file = "key.txt"\n')
    s = load_scenario(str(f))
    assert s.auth.bypass_key_file == str(tmp_path / "key.txt")


def test_the_json_form_holds_no_secret_value(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[auth]\nstrategy = "mint_jwt"\njwt_secret_env = "MY_SECRET"\n')
    s = load_scenario(str(f), environ={"MY_SECRET": "s3cr3t-value-xyz"})
    assert "s3cr3t-value-xyz" not in json.dumps(scenario_to_dict(s))
