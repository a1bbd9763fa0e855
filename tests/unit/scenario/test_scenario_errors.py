"""Every class of bad scenario: a one-paragraph message naming file, key path and value, exit 3.

Each case is driven through ``xtalk.cli.main`` with a stub command that loads the scenario the
way ``xtalk run`` does, so the assertion covers what a user sees: stderr, exit status 3 and no
traceback.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import types

import pytest

from xtalk import cli
from xtalk.errors import EXIT_USAGE, UsageError
from xtalk.scenario import load_scenario
from xtalk.scenario.catalog import fault_names

STUB = "xtalk_test_stub_scenario_command"


@pytest.fixture(autouse=True)
def stub_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """``xtalk stubload SCENARIO [--users N] [--run-time T]``: load the scenario, nothing else."""
    module = types.ModuleType(STUB)

    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("scenario")
        p.add_argument("--users", type=int)
        p.add_argument("--run-time")

    def run(args: argparse.Namespace) -> int:
        load_scenario(args.scenario, {"users": args.users, "run_time": args.run_time})
        return 0

    module.add_arguments = add_arguments  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, STUB, module)
    monkeypatch.setitem(cli.COMMANDS, "stubload", STUB)
    monkeypatch.setitem(cli.SUMMARIES, "stubload", "load a scenario (test stub)")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Exit status must be 3; returns stderr, which must hold no traceback."""
    status = cli.main(["stubload", *argv])
    err = capsys.readouterr().err
    assert status == EXIT_USAGE, err
    assert "Traceback" not in err
    assert err.startswith("xtalk stubload: expected ")
    assert err.count("\n") == 1  # one paragraph
    return err


def scenario(tmp_path: pathlib.Path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return str(path)


def test_a_good_scenario_passes_the_stub(tmp_path: pathlib.Path) -> None:
    assert cli.main(["stubload", scenario(tmp_path, "[run]\nusers = 2\n")]) == 0


# -- unknown keys -----------------------------------------------------------------------------


def test_unknown_key_suggests_the_closest_known_key(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "[run]\nusres = 5\n")
    err = run_cli(capsys, path)
    assert "unknown key run.usres=5" in err and path in err
    assert 'did you mean "users"?' in err


def test_key_in_the_wrong_section_says_where_it_belongs(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "users = 5\n"))
    assert "unknown key users=5" in err and "move users into [run]" in err


def test_unknown_section_is_refused(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "[journeys]\nname = 'x'\n"))
    assert "unknown key journeys" in err and 'did you mean "journey"?' in err


def test_unknown_key_in_a_journey_step_names_its_position(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "[[journey]]\n[[journey]]\n[[journey.step]]\nprompts = 'hi'\n"))
    assert "journey[2].step[1].prompts" in err and 'did you mean "prompt"?' in err


# -- wrong types ------------------------------------------------------------------------------


def test_wrong_type_names_the_type_found(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, '[run]\nusers = "fifty"\n')
    err = run_cli(capsys, path)
    assert 'expected run.users to be a whole number (found a string) but got run.users="fifty" in ' + path in err
    assert "--users N" in err


def test_a_true_is_not_a_number(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "[run]\nspawn_rate = true\n"))
    assert "run.spawn_rate=true" in err


def test_a_table_written_once_where_an_array_of_tables_is_needed(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "[journey]\nname = 'x'\n"))
    assert "[[journey]]" in err and "double brackets" in err


def test_an_unreadable_duration(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[run]\nrun_time = "5 minutes"\n'))
    assert 'run.run_time="5 minutes"' in err and '"5m"' in err


# -- impossible values ------------------------------------------------------------------------


def test_zero_users_in_the_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "[run]\nusers = 0\n")
    err = run_cli(capsys, path)
    assert f"expected run.users >= 1 but got run.users=0 in {path}; " in err
    assert "pass --users N" in err


def test_zero_users_on_the_command_line_names_the_flag(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "[run]\nusers = 5\n"), "--users", "0")
    assert "expected run.users >= 1 but got --users 0; pass --users" in err


def test_a_bad_run_time_on_the_command_line_names_the_flag(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, ""), "--run-time", "soon")
    assert '--run-time "soon"' in err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[run]\nusers = -3\n", "run.users=-3"),
        ("[run]\nspawn_rate = 0\n", "run.spawn_rate > 0"),
        ("[thresholds]\ncompletion_ratio = 1.5\n", "thresholds.completion_ratio <= 1"),
        ("[thresholds]\nconnection_error_ratio = -0.1\n", "thresholds.connection_error_ratio >= 0"),
        ("[check]\ndrain = -1\n", "check.drain=-1"),
        ("[check]\ndeadline = 0\n", "check.deadline > 0"),
        ("[[journey]]\ntabs = 0\n", "journey[1].tabs >= 1"),
        ('[[journey]]\nthink_time = ["2s", "1s"]\n', "min <= max"),
        ("[[journey]]\nweight = 0\n", "weight >= 1"),
        ('[run]\npacing = "open"\n', "arrival_rate"),
        ("[run]\narrival_rate = 5\n", 'only with pacing = "open"'),
        ('[run]\nengines = ["main"]\n[[journey]]\nengine = "matrix"\n', "at least two paths"),
        ('[[journey]]\n[[journey.step]]\nprompt = "hi {usr}"\n', "{usr}"),
        ('[auth]\nemail = "same@example.test"\n', "{user}"),
        ('[shape]\nkind = "spike"\nramp_up = "5s"\n', 'only with kind = "ramp"'),
        ('[shape]\nkind = "steps"\n[[shape.stages]]\nuntil = "20s"\n[[shape.stages]]\nuntil = "10s"\n', "previous stage"),
        ('[run]\nhost = "staging.example.com"\n', "http(s)://"),
        ('[[journey]]\nname = "a"\n[[journey]]\nname = "a"\n', "own name"),
        ('[backend]\nfaults = ["x=2"]\n', "backend.faults[1]"),
    ],
)
def test_impossible_values_are_refused(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str) -> None:
    path = scenario(tmp_path, text)
    err = run_cli(capsys, path)
    assert fragment in err
    assert path in err


# -- secrets ----------------------------------------------------------------------------------


def test_missing_secret_env_var_is_found_at_load_time(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XTALK_TEST_JWT_SECRET", raising=False)
    path = scenario(tmp_path, '[auth]\nstrategy = "mint_jwt"\njwt_secret_env = "XTALK_TEST_JWT_SECRET"\n')
    err = run_cli(capsys, path)
    assert "XTALK_TEST_JWT_SECRET unset" in err and "auth.jwt_secret_env" in err and path in err
    assert "export XTALK_TEST_JWT_SECRET=" in err


def test_an_empty_secret_env_var_counts_as_missing(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XTALK_TEST_BYPASS", "")
    err = run_cli(capsys, scenario(tmp_path, '[auth]\nstrategy = "e2e_bypass"\nbypass_key_env = "XTALK_TEST_BYPASS"\n'))
    assert "XTALK_TEST_BYPASS set but empty" in err


def test_a_strategy_without_its_secret_named(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[auth]\nstrategy = "e2e_bypass"\n'))
    assert "auth.bypass_key_env (or auth.bypass_key_file)" in err


def test_a_missing_secret_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[auth]\nstrategy = "mint_jwt"\njwt_secret_file = "nope.key"\n'))
    assert str(tmp_path / "nope.key") in err and "no such file" in err


def test_a_secret_written_into_the_file_is_refused_without_echoing_it(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[auth]\nstrategy = "mint_jwt"\njwt_secret = "hunter2-very-secret"\n'))
    assert "hunter2" not in err
    assert "auth.jwt_secret=<hidden>" in err and "jwt_secret_env" in err


def test_a_secret_value_put_where_a_variable_name_goes_is_not_echoed(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[auth]\nstrategy = "mint_jwt"\njwt_secret_env = "hunter2-very-secret!"\n'))
    assert "hunter2" not in err and "NAME of an environment variable" in err


def test_the_value_of_a_present_secret_never_appears_in_a_message(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XTALK_TEST_JWT_SECRET", "hunter2-very-secret")
    path = scenario(tmp_path, '[auth]\nstrategy = "mint_jwt"\njwt_secret_env = "XTALK_TEST_JWT_SECRET"\n'
                    'jwt_secret_file = "x"\n')
    err = run_cli(capsys, path)
    assert "hunter2" not in err


def test_a_key_of_another_strategy_names_the_strategy_it_needs(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[auth]\nstrategy = "register"\naccounts_csv = "a.csv"\n'))
    assert 'only with strategy = "csv"' in err


def test_an_accounts_csv_with_fewer_accounts_than_users(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.csv").write_text("email,password\na@x.test,pw1\nb@x.test,pw2\n")
    err = run_cli(capsys, scenario(tmp_path, '[run]\nusers = 3\n[auth]\nstrategy = "csv"\naccounts_csv = "a.csv"\n'))
    assert "at least 3 accounts" in err and "2 accounts" in err and "pw1" not in err


def test_an_accounts_csv_without_the_header(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.csv").write_text("a@x.test,pw1\n")
    err = run_cli(capsys, scenario(tmp_path, '[run]\nusers = 1\n[auth]\nstrategy = "csv"\naccounts_csv = "a.csv"\n'))
    assert "email,password" in err and "pw1" not in err


def test_a_host_env_var_that_is_unset(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XTALK_TEST_HOST", raising=False)
    err = run_cli(capsys, scenario(tmp_path, '[run]\nhost_env = "XTALK_TEST_HOST"\n'))
    assert "XTALK_TEST_HOST unset" in err and "--host" in err


def test_secrets_are_not_checked_when_the_caller_only_needs_thresholds(tmp_path: pathlib.Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XTALK_TEST_JWT_SECRET", raising=False)
    path = scenario(tmp_path, '[auth]\nstrategy = "mint_jwt"\njwt_secret_env = "XTALK_TEST_JWT_SECRET"\n')
    assert load_scenario(path, check_env=False).auth.jwt_secret_env == "XTALK_TEST_JWT_SECRET"


# -- names owned elsewhere: engine paths, anomaly kinds, faults, profiles ------------------------


def test_unknown_engine_path_in_a_journey(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, '[[journey]]\nengine = "isolatd"\n')
    err = run_cli(capsys, path)
    assert 'journey[1].engine="isolatd" in ' + path in err and 'did you mean "isolated"?' in err


def test_unknown_engine_path_in_the_engines_list(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[run]\nengines = ["main", "turbo"]\n'))
    assert 'run.engines="turbo"' in err and '"legacy"' in err


def test_unknown_engine_path_for_the_embedded_backend(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[backend]\nengine = "default"\n'))
    assert 'backend.engine="default"' in err


def test_unknown_anomaly_kind_in_thresholds(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "[thresholds.anomalies]\ncross_user_events = 0\n"))
    assert "unknown anomaly kind cross_user_events=0" in err and 'did you mean "cross_user_event"?' in err


def test_unknown_latency_phase_and_percentile(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[thresholds.latency.agent_complete]\np95 = "1s"\n'))
    assert 'did you mean "agent_completed"?' in err
    err = run_cli(capsys, scenario(tmp_path, '[thresholds.latency.agent_completed]\np90 = "1s"\n'))
    assert "thresholds.latency.agent_completed.p90" in err


@pytest.mark.skipif(fault_names() is None, reason="xtalk.backend.faults is not importable here")
def test_unknown_fault_name(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    known = fault_names() or ()
    err = run_cli(capsys, scenario(tmp_path, '[backend]\nfaults = ["no_such_fault=0.5"]\n'))
    assert 'fault "no_such_fault"' in err and known[0] in err


@pytest.mark.skipif(fault_names() is None, reason="xtalk.backend.faults is not importable here")
def test_known_faults_load_in_both_spellings(tmp_path: pathlib.Path) -> None:
    name = (fault_names() or ("x",))[0]
    path = scenario(tmp_path, f'[backend]\nfaults = ["{name}=0.25", {{name = "{name}", rate = 0.5}}, "{name}"]\n')
    faults = load_scenario(path).backend.faults
    assert faults[:2] == ((name, 0.25), (name, 0.5)) and 0 <= faults[2][1] <= 1


def test_unknown_profile(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, '[run]\nprofile = "netta"\n'))
    assert 'did you mean "netra"?' in err


# -- the file itself --------------------------------------------------------------------------


def test_malformed_toml_gives_line_and_column(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario(tmp_path, "[run]\nusers = 5\nname = golden\n")
    err = run_cli(capsys, path)
    assert "valid TOML" in err and "line 3" in err and "column" in err and path in err


def test_missing_file_lists_the_scenarios_beside_it(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "golden_path.toml").write_text("")
    err = run_cli(capsys, str(tmp_path / "golden_pth.toml"))
    assert "no such file" in err and "golden_path.toml" in err


def test_a_folder_is_not_a_scenario(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, str(tmp_path))
    assert "a folder" in err


def test_a_non_utf8_file(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"[run]\nname = '\xff'\n")
    assert "UTF-8" in run_cli(capsys, str(path))


def test_a_wrong_schema_version(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, 'schema = "xtalk.scenario/9"\n'))
    assert "xtalk.scenario/1" in err


def test_errors_are_usage_errors_with_three_parts(tmp_path: pathlib.Path) -> None:
    with pytest.raises(UsageError) as caught:
        load_scenario(scenario(tmp_path, "[run]\nusers = 0\n"))
    assert caught.value.expected == "run.users >= 1"
    assert caught.value.found.startswith("run.users=0 in ")
    assert "--users N" in caught.value.fix


def test_an_anomaly_kind_directly_under_thresholds_is_pointed_to_its_table(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_cli(capsys, scenario(tmp_path, "[thresholds]\ndropped_response = 2\n"))
    assert "move dropped_response into [thresholds.anomalies]" in err
