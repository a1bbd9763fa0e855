"""Templates of a profile: JSON values with ``{name}`` placeholders (``xtalk.profiles.model``).

``render(template, values)`` fills them: a string that is exactly ``"{name}"`` becomes the
value itself (any JSON value, ``None`` included), ``{name}`` inside a longer string becomes the
value's text, ``{{`` and ``}}`` are literal braces. ``names_in`` lists the placeholders a
template uses (the loader refuses unknown ones), ``path_of`` says where a placeholder stands.
Pure functions: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from xtalk.core.profile import Path

_NAME = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}\Z")


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """``template`` with its placeholders filled from ``values`` (a new value; the template is
    untouched). A placeholder missing from ``values`` stays as written."""
    if isinstance(template, str):
        return _string(template, values)
    if isinstance(template, dict):
        return {key: render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, values) for value in template]
    return template


Renderer = Callable[[Mapping[str, Any]], Any]
_COMPILED: dict[int, tuple[Any, Renderer, frozenset[str]]] = {}


def compiled(template: Any) -> tuple[Renderer, frozenset[str]]:
    """``template`` compiled once (per template object: a profile's request frames) into a
    function equal to ``lambda values: render(template, values)``, and the names it uses: a
    request's frame is rendered per request, and most of it is constant."""
    entry = _COMPILED.get(id(template))
    if entry is None or entry[0] is not template:
        if len(_COMPILED) >= 256:
            _COMPILED.clear()
        entry = _COMPILED[id(template)] = (template, _compile(template), frozenset(names_in(template)))
    return entry[1], entry[2]


def _compile(template: Any) -> Renderer:
    if isinstance(template, str):
        text = template
        if "{" not in text and "}" not in text:
            return lambda values: text
        whole = _WHOLE.match(text)
        if whole is not None:
            name = whole.group(1)
            return lambda values: values[name] if name in values else _string(text, values)
        return lambda values: _string(text, values)
    if isinstance(template, dict):
        items = [(key, _compile(value)) for key, value in template.items()]
        return lambda values: {key: fill(values) for key, fill in items}
    if isinstance(template, list):
        parts = [_compile(value) for value in template]
        return lambda values: [fill(values) for fill in parts]
    return lambda values: template


def _string(text: str, values: Mapping[str, Any]) -> Any:
    if "{" not in text and "}" not in text:
        return text
    whole = _WHOLE.match(text)
    if whole is not None and whole.group(1) in values:
        return values[whole.group(1)]

    def fill(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name not in values:
            return token
        value = values[name]
        return "" if value is None else str(value)

    return _NAME.sub(fill, text)


def names_in(template: Any) -> set[str]:
    """The placeholder names ``template`` uses anywhere."""
    found: set[str] = set()
    _collect(template, found)
    return found


def _collect(template: Any, found: set[str]) -> None:
    if isinstance(template, str):
        found.update(m.group(1) for m in _NAME.finditer(template) if m.group(1))
    elif isinstance(template, dict):
        for value in template.values():
            _collect(value, found)
    elif isinstance(template, (list, tuple)):
        for value in template:
            _collect(value, found)


def path_of(template: Any, name: str, prefix: Path = ()) -> Path | None:
    """The path of the first field (through tables only) whose value uses ``{name}``."""
    if isinstance(template, str):
        return prefix if name in names_in(template) else None
    if isinstance(template, dict):
        for key, value in template.items():
            found = path_of(value, name, prefix + (key,))
            if found is not None:
                return found
    return None


def set_path(frame: dict[str, Any], path: Path, value: Any) -> None:
    """Write ``value`` at ``path`` in ``frame`` (tables on the way are made when missing)."""
    node = frame
    for key in path[:-1]:
        inner = node.get(key)
        if not isinstance(inner, dict):
            inner = node[key] = {}
        node = inner
    node[path[-1]] = value
