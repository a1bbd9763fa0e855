"""The minimal scenario as a TOML file that ``xtalk run`` accepts.

``render_scenario_toml(doc, comment)`` writes a scenario document (the sectioned form of
``scenario_to_dict``: ``[run]``, ``[check]``, ``[backend]``, ``[auth]``, ``[[journey]]`` with
``[[journey.step]]``, ``[thresholds]``, ``[shape]``, ``[probes]``) as TOML, with ``comment`` as
its opening comment block. Durations are written as people write them (``"30s"``) when that form
reads back to the same seconds, else as numbers of seconds; faults as ``"name=rate"``. Writing
is checked by reading back: the text parses with ``tomllib`` and loads to the same scenario (a
test states it for every shipped scenario). The document's ``path`` key is left out: a file's
path is where it lies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from xtalk.scenario.duration import format_duration, parse_duration

SECTION_ORDER = ("run", "check", "backend", "auth", "thresholds", "shape", "probes", "journey")
DURATION_KEYS = frozenset({"run_time", "connect_timeout", "deadline", "drain", "token_lifetime",
                           "think_time", "until", "p50", "p95", "p99"})
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)


def _duration(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    text = format_duration(float(value))
    try:
        return text if parse_duration(text) == float(value) else value
    except ValueError:
        return value


def _value(value: Any, *, duration: bool = False) -> str:
    if duration:
        if isinstance(value, list):
            return "[" + ", ".join(_value(_duration(v)) for v in value) + "]"
        value = _duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's basic-string escapes
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _table(out: list[str], path: str, table: Mapping[str, Any], header: str) -> None:
    """One table: its header, its plain keys, then its sub-tables and arrays of tables."""
    plain = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, Mapping) and not _is_tables(v)]
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    arrays = [(k, v) for k, v in table.items() if _is_tables(v)]
    if plain or header.startswith("[["):
        out.append("")
        out.append(header)
        for key, value in plain:
            out.append(f"{_key(key)} = {_value(value, duration=key in DURATION_KEYS)}")
    for key, value in subtables:
        if value:
            _table(out, f"{path}.{_key(key)}", value, f"[{path}.{_key(key)}]")
    for key, items in arrays:
        for item in items:
            _table(out, f"{path}.{_key(key)}", item, f"[[{path}.{_key(key)}]]")


def _comment(text: str) -> list[str]:
    return ["# " + _CONTROL.sub(" ", line).rstrip() if line.strip() else "#" for line in text.splitlines()]


def render_scenario_toml(doc: Mapping[str, Any], comment: str = "") -> str:
    """``doc`` (a scenario document) as TOML text, opening with ``comment`` as ``#`` lines."""
    out: list[str] = _comment(comment) if comment else []
    if "schema" in doc:
        out.append(f"schema = {_value(doc['schema'])}")
    for section in SECTION_ORDER:
        value = doc.get(section)
        if section == "journey":
            for journey in value or ():
                _table(out, "journey", journey, "[[journey]]")
            continue
        if not isinstance(value, Mapping):
            continue
        if section == "backend":
            value = {**value, "faults": [f"{f['name']}={float(f['rate'])!r}" if isinstance(f, Mapping) else f
                                         for f in value.get("faults") or ()]}
        _table(out, section, value, f"[{section}]")
    return "\n".join(out).lstrip("\n") + "\n"
