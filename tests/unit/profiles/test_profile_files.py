"""Profile files: the shipped ones load, and every mistake in one is a teaching error that names
the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from xtalk.core.profile import EventKind
from xtalk.errors import UsageError
from xtalk.profiles import get_profile, load_profile, resolve, shipped
from xtalk.profiles.load import read_profile
from xtalk.profiles.template import names_in, path_of, render

MINIMAL = '''
schema = "xtalk.profile/1"
name = "tiny"
[auth]
strategies = ["login"]
[auth.login]
path = "/login"
fields = { user = "{account}", password = "{password}" }
[request.kinds.chat]
frame = { type = "chat", text = "{text}" }
[events.types]
done = "agent_completed"
'''


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return str(path)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(UsageError) as caught:
        read_profile(write(tmp_path, text))
    return caught.value.message


def test_the_shipped_profiles_load_and_netra_is_the_reference_backends() -> None:
    assert {"netra", "chainlit"} <= set(shipped())
    assert load_profile("netra").reference_backend and not load_profile("chainlit").reference_backend
    netra = get_profile("netra")
    assert netra.types["reasoning"] is EventKind.THINKING and netra.canonical["reasoning"] == "agent_thinking"
    assert netra.batches == {"event_batch": "events"} and ("data", "context", "run_id") in netra.run_id


def test_a_minimal_profile_gets_the_defaults_the_docs_promise(tmp_path: Path) -> None:
    profile = read_profile(write(tmp_path, MINIMAL))
    assert profile.transport.kind == "json" and profile.transport.path == "/ws"
    assert profile.core.type_path == (("type",),) and profile.core.request_types == frozenset({"chat"})
    assert profile.core.request_text == (("text",),) and profile.default_request == "chat"
    assert profile.auth.identity_claim == "sub" and profile.auth.token_from == "json"


def test_a_profile_is_found_by_name_or_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert resolve("netra") == "netra"
    assert resolve("p.toml", str(tmp_path)) == path
    assert load_profile(path).name == "tiny"


def test_an_unknown_shipped_name_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve("chainlt")
    assert 'did you mean "chainlit"?' in caught.value.message


@pytest.mark.parametrize("change, expected", [
    (("[events.types]", "[events.typez]"), 'unknown key events.typez'),
    (('done = "agent_completed"', 'done = "agent_complete"'), 'did you mean "agent_completed"?'),
    (('text = "{text}"', 'text = "{txt}"'), "{txt}"),
    (('text = "{text}"', 'text = "hello"'), 'no "{text}" in it'),
    (('strategies = ["login"]', 'strategies = ["login", "e2e_bypass"]'), "[auth.bypass]"),
    (('strategies = ["login"]', 'strategies = ["logn"]'), 'did you mean "login"?'),
    (('name = "tiny"', ''), "add name ="),
    (('frame = { type = "chat"', 'frame = { kind = "chat"'), "name its type where events.type says"),
])
def test_mistakes_are_teaching_errors(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    message = error(tmp_path, MINIMAL.replace(*change))
    assert expected in message and "p.toml" in message


def test_bad_toml_names_the_line(tmp_path: Path) -> None:
    assert "line" in error(tmp_path, MINIMAL + "\n[oops\n")


def test_conditions_need_a_value_for_comparisons(tmp_path: Path) -> None:
    text = MINIMAL + '[[events.rules]]\ntype = "step"\nkind = "noise"\nwhen = [{ path = "data.x", op = "eq" }]\n'
    assert 'value for op = "eq"' in error(tmp_path, text)


def test_templates_fill_whole_values_with_any_json_and_parts_with_text() -> None:
    template = {"a": "{thread}", "b": "id {thread}!", "c": ["{n}", "{{literal}}"], "d": "{}"}
    assert render(template, {"thread": None, "n": 3}) == {"a": None, "b": "id !", "c": [3, "{literal}"], "d": "{}"}
    assert names_in(template) == {"thread", "n"}
    assert path_of({"x": {"y": "say {text}"}}, "text") == ("x", "y")


def test_the_profiles_command_lists_the_shipped_ones_and_validates_a_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xtalk.cli import main

    assert main(["profiles"]) == 0
    listing = capsys.readouterr().out
    assert "netra" in listing and "chainlit" in listing and "socketio" in listing
    assert main(["profiles", write(tmp_path, MINIMAL)]) == 0
    assert "request     chat (default)" in capsys.readouterr().out
    assert main(["profiles", write(tmp_path, MINIMAL.replace('"{text}"', '"{txt}"'))]) == 3
    assert "{txt}" in capsys.readouterr().err
