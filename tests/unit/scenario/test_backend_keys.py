"""``[backend] token_lifetime`` and ``max_connections_per_user``: the embedded reference backend's
token lifetime and per-user connection limit, validated like every other key."""

from __future__ import annotations

import pathlib

import pytest

from xtalk.errors import UsageError
from xtalk.scenario import load_scenario


def scenario(tmp_path: pathlib.Path, text: str) -> str:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return str(path)


def test_the_backend_keys_default_to_netras_lifetime_and_no_limit(tmp_path: pathlib.Path) -> None:
    backend = load_scenario(scenario(tmp_path, '[backend]\nengine = "main"\n')).backend
    assert backend.token_lifetime is None and backend.max_connections_per_user == 0


def test_the_backend_keys_load_as_seconds_and_a_count(tmp_path: pathlib.Path) -> None:
    text = '[backend]\ntoken_lifetime = "2m"\nmax_connections_per_user = 5\n'
    backend = load_scenario(scenario(tmp_path, text)).backend
    assert backend.token_lifetime == 120.0 and backend.max_connections_per_user == 5


@pytest.mark.parametrize(("text", "fragment"), [
    ('[backend]\ntoken_lifetime = "soon"\n', "backend.token_lifetime"),
    ('[backend]\ntoken_lifetime = "0s"\n', "backend.token_lifetime > 0 s"),
    ("[backend]\nmax_connections_per_user = -1\n", "backend.max_connections_per_user"),
    ('[backend]\nmax_connections_per_user = "3"\n', "backend.max_connections_per_user"),
    ("[backend]\nmax_connection_per_user = 3\n", "max_connection_per_user"),
])
def test_bad_backend_keys_are_refused_with_the_key_path(tmp_path: pathlib.Path, text: str,
                                                        fragment: str) -> None:
    path = scenario(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        load_scenario(path)
    assert fragment in str(caught.value) and path in str(caught.value)
