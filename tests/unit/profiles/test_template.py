"""A compiled template renders exactly as ``render`` does, and each rendering is a fresh value."""

from __future__ import annotations

from typing import Any

import pytest

from xtalk.profiles import get_profile
from xtalk.profiles.template import compiled, render

VALUES: dict[str, Any] = {"text": "hi {x} xtm-0123456789abcdef", "marker": "xtm-0123456789abcdef", "thread": None,
                          "n": 3, "user": "u0001"}

TEMPLATES: list[Any] = [
    "plain", "{text}", "{thread}", "{missing}", "a {user} b {{literal}} {missing} {n}", "{{", "}}",
    {"type": "start_agent", "payload": {"user_request": "{text}", "thread_id": "{thread}", "n": 1,
                                        "list": ["{user}", 2, None, {"deep": "{marker}"}], "flag": True}},
    [], {}, 7, None,
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_compiled_template_renders_as_render_does(template: Any) -> None:
    fill, names = compiled(template)
    assert fill(VALUES) == render(template, VALUES)
    assert fill({}) == render(template, {})


def test_every_request_frame_of_every_profile_renders_the_same_compiled() -> None:
    for name in ("netra", "chainlit"):
        for kind in get_profile_wire(name).requests:
            fill, _ = compiled(kind.frame)
            assert fill(VALUES) == render(kind.frame, VALUES)


def test_each_compiled_rendering_is_a_new_value_that_can_be_changed() -> None:
    template = {"payload": {"a": "{user}"}, "items": [1]}
    fill, names = compiled(template)
    first = fill(VALUES)
    first["payload"]["b"] = 1
    first["items"].append(2)
    assert fill(VALUES) == {"payload": {"a": "u0001"}, "items": [1]}
    assert template == {"payload": {"a": "{user}"}, "items": [1]}
    assert names == {"user"}


def get_profile_wire(name: str) -> Any:
    from xtalk.profiles import load_profile

    assert get_profile(name) is not None
    return load_profile(name)
