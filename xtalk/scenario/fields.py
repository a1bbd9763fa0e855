"""Reading one table of a scenario with messages that teach.

A ``Table`` wraps one TOML table (``[run]``, the second ``[[journey]]``, ...) together with where
it came from: the file, the key path (``journey[2].step[1]``, counted from 1) and, for values the
command line overrode, the flag (``--users``). Every getter checks type and range and raises
``UsageError(expected, found, fix)`` whose message names the key path, the value and the file,
e.g. ``expected run.users >= 1 but got run.users=0 in scenarios/x.toml; set run.users to a whole
number >= 1 in scenarios/x.toml, or pass --users N``.

Invariants: a getter never returns a value of the wrong type; ``finish()`` rejects every key that
no getter read, suggesting the closest known key, so a typo can never be silently ignored.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TypeVar

from xtalk.errors import UsageError
from xtalk.scenario.duration import DURATION_HINT, parse_duration

T = TypeVar("T")

#: Keys that look like a secret written into the file. They are refused with a message that
#: never repeats the value.
SECRET_LIKE: tuple[str, ...] = (
    "password", "secret", "jwt_secret", "bypass_key", "token", "access_token", "api_key", "key",
)

_MISSING = object()


def show(value: object) -> str:
    """A value as it would be written in TOML, short enough for a one-line message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:57] + '..."'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "a table {" + ", ".join(str(k) for k in list(value)[:5]) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(show(v) for v in value[:6])
        return "[" + inner + (", ...]" if len(value) > 6 else "]")
    return repr(value)


def type_name(value: object) -> str:
    """The TOML name of a value's type, for "found" parts of messages."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def closest(word: str, candidates: Collection[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


class Table:
    """One table of a scenario being read, with its origin for messages."""

    def __init__(
        self,
        data: Mapping[str, object],
        *,
        source: str,
        path: str,
        known: Sequence[str],
        flags: Mapping[str, str] | None = None,
        elsewhere: Callable[[str], str | None] | None = None,
        check_keys: bool = True,
    ) -> None:
        self.data = data
        self.source = source
        self.path = path  # "" for the top level, "run", "journey[2]", "journey[2].step[1]"
        self.known = tuple(known)
        self.flags = dict(flags or {})  # key -> command-line flag that set its value
        self.elsewhere = elsewhere  # key -> "the section where this key belongs" hint
        self.read: set[str] = set()
        if check_keys:
            # Unknown keys first: a typo explains itself better than what it left unset.
            self.finish()

    # -- where things are ------------------------------------------------------------------

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def found(self, key: str, value: object) -> str:
        flag = self.flags.get(key)
        if flag is not None:
            return f"{flag} {show(value)}"
        return f"{self.key_path(key)}={show(value)} in {self.source}"

    def fix(self, key: str, hint: str) -> str:
        flag = self.flags.get(key)
        if flag is not None:
            return f"pass {flag} with {hint}"
        text = f"set {self.key_path(key)} to {hint} in {self.source}"
        flag = _CLI_FLAGS.get(self.key_path(key))
        return f"{text}, or pass {flag}" if flag else text

    def error(self, key: str, expected: str, value: object, hint: str, fix: str | None = None) -> UsageError:
        return UsageError(f"{self.key_path(key)} {expected}", self.found(key, value), fix or self.fix(key, hint))

    # -- generic access --------------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: object = None) -> object:
        self.read.add(key)
        return self.data.get(key, default)

    def _get(self, key: str, default: object) -> object:
        self.read.add(key)
        return self.data.get(key, default)

    def require(self, key: str, hint: str) -> object:
        self.read.add(key)
        if key not in self.data:
            where = f"[{self.path}]" if self.path else "the top level"
            raise UsageError(
                f"{self.key_path(key)} to be set",
                f"no {key} in {where} of {self.source}",
                f"add {key} = {hint} to {where} in {self.source}",
            )
        return self.data[key]

    # -- typed getters ---------------------------------------------------------------------

    def get_str(self, key: str, default: T, *, choices: Sequence[str] | None = None,
                nonempty: bool = False) -> str | T:
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return default
        return self.check_str(key, value, choices=choices, nonempty=nonempty)

    def check_str(self, key: str, value: object, *, choices: Sequence[str] | None = None,
                  nonempty: bool = False) -> str:
        if choices is not None:
            hint = " or ".join(f'"{c}"' for c in choices)
            if not isinstance(value, str) or value not in choices:
                guess = closest(value, choices) if isinstance(value, str) else None
                fix = self.fix(key, hint) + (f' (did you mean "{guess}"?)' if guess else "")
                raise self.error(key, f"to be one of {hint}", value, hint, fix)
            return value
        if not isinstance(value, str):
            raise self.error(key, "to be a string", value, 'a quoted string')
        if nonempty and not value.strip():
            raise self.error(key, "to be a non-empty string", value, "a non-empty string")
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "to be true or false", value, "true or false")
        return value

    def get_int(self, key: str, default: T, *, minimum: int | None = None,
                maximum: int | None = None) -> int | T:
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return default
        return self.check_int(key, value, minimum=minimum, maximum=maximum)

    def check_int(self, key: str, value: object, *, minimum: int | None = None,
                  maximum: int | None = None) -> int:
        hint = _range_hint("a whole number", minimum, maximum)
        if isinstance(value, float) and value.is_integer() and key in self.flags:
            value = int(value)  # the command line may hand over 50.0
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"to be a whole number (found {type_name(value)})", value, hint)
        _check_range(self, key, value, minimum, maximum, hint)
        return value

    def get_float(self, key: str, default: T, *, minimum: float | None = None,
                  maximum: float | None = None, above: float | None = None) -> float | T:
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return default
        return self.check_float(key, value, minimum=minimum, maximum=maximum, above=above)

    def check_float(self, key: str, value: object, *, minimum: float | None = None,
                    maximum: float | None = None, above: float | None = None) -> float:
        hint = _range_hint("a number", minimum, maximum, above)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"to be a number (found {type_name(value)})", value, hint)
        if not math.isfinite(value):
            raise self.error(key, "to be a finite number", value, hint)
        if above is not None and not value > above:
            raise self.error(key, f"> {above:g}", value, hint)
        _check_range(self, key, float(value), minimum, maximum, hint)
        return float(value)

    def get_duration(self, key: str, default: T, *, above: float | None = None,
                     maximum: float | None = None) -> float | T:
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return default
        return self.check_duration(key, value, above=above, maximum=maximum)

    def check_duration(self, key: str, value: object, *, above: float | None = None,
                       maximum: float | None = None) -> float:
        hint = DURATION_HINT if above is None else f"{DURATION_HINT}, more than {above:g} s"
        try:
            seconds = parse_duration(value)  # type: ignore[arg-type]
        except ValueError as reason:
            raise self.error(key, f"to be {DURATION_HINT} ({reason})", value, hint) from None
        if above is not None and not seconds > above:
            raise self.error(key, f"> {above:g} s", value, hint)
        if maximum is not None and seconds > maximum:
            raise self.error(key, f"<= {maximum:g} s", value, hint)
        return seconds

    def get_list(self, key: str, default: T) -> list[object] | T:
        value = self._get(key, _MISSING)
        if value is _MISSING:
            return default
        if not isinstance(value, list):
            raise self.error(key, f"to be a list (found {type_name(value)})", value, "a list [...]")
        return value

    def get_table(self, key: str) -> Mapping[str, object]:
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, f"to be a table (found {type_name(value)})", value,
                             f"a table: write [{self.key_path(key)}] and keys under it")
        return value

    def get_tables(self, key: str) -> list[Mapping[str, object]]:
        """An array of tables (``[[journey]]``)."""
        value = self._get(key, [])
        if isinstance(value, Mapping):
            raise UsageError(
                f"{self.key_path(key)} to be an array of tables ([[{self.key_path(key)}]])",
                f"a single table [{self.key_path(key)}] in {self.source}",
                f"write [[{self.key_path(key)}]] (double brackets), once per entry",
            )
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.error(key, "to be an array of tables", value,
                             f"[[{self.key_path(key)}]] entries")
        return value

    # -- the end: nothing unread -----------------------------------------------------------

    def finish(self) -> None:
        for key, value in self.data.items():
            if key in self.read or key in self.known:
                continue
            raise self.unknown(key, value)

    def unknown(self, key: str, value: object) -> UsageError:
        where = f"[{self.path}]" if self.path else "the top level"
        if key in SECRET_LIKE or key.endswith(("password", "_secret", "_token", "_key")):
            # Never echo the value: it may be a real secret pasted into the file.
            return UsageError(
                "no secret values in a scenario file (only the names of environment variables or files)",
                f"{self.key_path(key)}=<hidden> in {self.source}",
                f"remove it and name where the secret lives instead, e.g. {key}_env = \"MY_VAR\" "
                f"or {key}_file = \"path\"; see scenarios/README.md, section [auth]",
            )
        known = ", ".join(self.known)
        guess = closest(key, self.known)
        belongs = self.elsewhere(key) if self.elsewhere else None
        if belongs:
            fix = f"move {key} into {belongs}"
        elif guess:
            fix = f'did you mean "{guess}"? Known keys in {where}: {known}'
        else:
            fix = f"remove it; known keys in {where}: {known}"
        return UsageError(f"a known key in {where}", f"unknown key {self.key_path(key)}={show(value)} in {self.source}", fix)


# Scenario keys the command line can override: a fix names the flag too.
_CLI_FLAGS: dict[str, str] = {
    "run.host": "--host URL",
    "run.users": "--users N",
    "run.spawn_rate": "--spawn-rate R",
    "run.run_time": "--run-time T",
    "run.seed": "--seed S",
}


def _range_hint(kind: str, minimum: float | None, maximum: float | None,
                above: float | None = None) -> str:
    parts = []
    if above is not None:
        parts.append(f"> {above:g}")
    if minimum is not None:
        parts.append(f">= {minimum:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    return kind + (" " + " and ".join(parts) if parts else "")


def _check_range(table: Table, key: str, value: float, minimum: float | None,
                 maximum: float | None, hint: str) -> None:
    if minimum is not None and value < minimum:
        raise table.error(key, f">= {minimum:g}", value, hint)
    if maximum is not None and value > maximum:
        raise table.error(key, f"<= {maximum:g}", value, hint)
