"""A scenario names its profile, and the profile decides what the scenario may say: engine paths,
request kinds, auth strategies, the probes it can express, whether a host is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from xtalk.errors import UsageError
from xtalk.scenario import load_scenario

REPO = Path(__file__).resolve().parents[3]
ENV = {"XTALK_CHAINLIT_PASSWORD": "pw"}


def scenario(tmp_path: Path, text: str) -> str:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return str(path)


def refused(tmp_path: Path, text: str, **kwargs: object) -> str:
    with pytest.raises(UsageError) as caught:
        load_scenario(scenario(tmp_path, text), environ=ENV, **kwargs)  # type: ignore[arg-type]
    return caught.value.message


def test_the_chainlit_scenarios_take_their_defaults_from_the_profile() -> None:
    s = load_scenario(str(REPO / "scenarios" / "chainlit.toml"), {"host": "http://127.0.0.1:8765"}, environ=ENV)
    assert s.profile == "chainlit" and s.engines == () and s.auth.strategy == "login"
    assert [step.kind for step in s.journeys[0].steps] == ["client_message"]
    takeover = load_scenario(str(REPO / "scenarios" / "chainlit_takeover.toml"), {"host": "http://127.0.0.1:1"},
                             environ=ENV)
    assert takeover.probes.session_takeover


def test_a_profile_without_the_reference_backend_needs_a_host_to_run_but_not_to_recheck(tmp_path: Path) -> None:
    assert "--host" in refused(tmp_path, '[run]\nprofile = "chainlit"\n[auth]\nstrategy = "login"\n'
                               'password_env = "XTALK_CHAINLIT_PASSWORD"\n')
    s = load_scenario(str(REPO / "scenarios" / "chainlit.toml"), check_env=False)
    assert s.host is None and s.profile == "chainlit"


def test_a_profile_file_is_found_beside_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text((REPO / "xtalk" / "profiles" / "chainlit.toml").read_text()
                                        .replace('name = "chainlit"', 'name = "mine"'))
    s = load_scenario(scenario(tmp_path, '[run]\nprofile = "mine.toml"\nhost = "http://127.0.0.1:1"\n'
                                         '[auth]\npassword_env = "XTALK_CHAINLIT_PASSWORD"\n'), environ=ENV)
    assert s.profile == str(tmp_path / "mine.toml") and s.auth.strategy == "login"


@pytest.mark.parametrize("text, expected", [
    ('[probes]\nsession_takeover = true\n', "only with a profile that names sessions"),
    ('[run]\nprofile = "netra"\n[[journey]]\n[[journey.step]]\nkind = "client_message"\n',
     'to be one of "start_agent" or "user_message"'),
    ('[run]\nprofile = "chainlt"\n', 'did you mean "chainlit"?'),
])
def test_what_the_netra_profile_cannot_express_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in refused(tmp_path, text)


CHAINLIT = '[run]\nprofile = "chainlit"\nhost = "http://127.0.0.1:1"\n[auth]\npassword_env = "XTALK_CHAINLIT_PASSWORD"\n'


@pytest.mark.parametrize("extra, expected", [
    ('[[journey]]\nengine = "legacy"\n', 'journey[1].engine to name a known engine path'),
    ('[probes]\nforeign_thread = true\n', "creates threads"),
    ('[probes]\nspoofed_user_id = true\n', "spoof_user_id"),
])
def test_what_the_chainlit_profile_cannot_express_is_refused(tmp_path: Path, extra: str, expected: str) -> None:
    assert expected in refused(tmp_path, CHAINLIT + extra)


def test_an_auth_strategy_the_profile_lacks_is_refused(tmp_path: Path) -> None:
    text = ('[run]\nprofile = "chainlit"\nhost = "http://127.0.0.1:1"\n[auth]\nstrategy = "e2e_bypass"\n'
            'bypass_key_env = "K"\n')
    assert "chainlit profile's strategies" in refused(tmp_path, text)


def test_run_engines_are_refused_for_a_profile_without_engine_paths(tmp_path: Path) -> None:
    text = CHAINLIT.replace('host =', 'engines = ["main"]\nhost =')
    assert "has no engine paths" in refused(tmp_path, text)
