"""Frames → normalised events, by the profile.

``normalise(frame, profile)`` returns the events a received frame carries (a batch carries many),
or a ``Problem`` when the frame cannot be normalised (not an object, no type, a malformed batch).
The result names its lifecycle step (``EventKind``), the ids wherever the envelope keeps them,
the engine fingerprints, and a dedup key that two deliveries of the same event share even when a
retry added an ``attempt`` field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from xtalk.core.ids import RunId, ThreadId
from xtalk.core.profile import EventKind, Profile, first_str, first_value


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    type: str  # the canonical type name (``reasoning`` reads ``agent_thinking``)
    run_id: RunId | None
    user_id: str | None
    thread_id: ThreadId | None
    agent: str | None
    tool: str | None  # the tool call's key: its execution id, else its tool name
    fingerprints: tuple[tuple[str, str], ...]  # (group, name)
    dedup: int
    mode: str | None = None  # welcomes: the engine path the server says it serves


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str


def _dedup_key(frame: dict[str, Any], profile: Profile) -> int:
    if profile.ignore_for_dedup.intersection(frame):
        frame = {k: v for k, v in frame.items() if k not in profile.ignore_for_dedup}
    try:
        return hash(orjson.dumps(frame, option=orjson.OPT_SORT_KEYS))
    except TypeError:  # integers beyond 64 bits and the like: fall back to the repr
        return hash(repr(sorted(frame.items(), key=lambda kv: kv[0])))


def _fingerprints(frame: dict[str, Any], profile: Profile) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for rule in profile.fingerprints:
        if rule.group in found:
            continue
        if all(condition.holds(frame) for condition in rule.conditions):
            found[rule.group] = rule.name
    return tuple(found.items())


def _event(frame: dict[str, Any], type_name: str, kind: EventKind, profile: Profile) -> Event:
    if kind in (EventKind.NOISE, EventKind.SERVER_ERROR):
        run = first_str(frame, profile.run_id)
        return Event(kind, type_name, RunId(run) if run else None, None, None, None, None, (), 0)
    if kind is EventKind.WELCOME:
        return Event(
            kind,
            type_name,
            None,
            first_str(frame, profile.welcome_user_id),
            None,
            None,
            None,
            (),
            0,
            first_str(frame, profile.welcome_mode),
        )
    run = first_str(frame, profile.run_id)
    thread = first_str(frame, profile.thread_id)
    tool: str | None = None
    if kind in (EventKind.TOOL_EXECUTING, EventKind.TOOL_COMPLETED):
        tool = first_str(frame, profile.tool_call_id) or first_str(frame, profile.tool_name)
    return Event(
        kind,
        profile.canonical.get(type_name, type_name),
        RunId(run) if run else None,
        first_str(frame, profile.user_id),
        ThreadId(thread) if thread else None,
        first_str(frame, profile.agent_name),
        tool,
        _fingerprints(frame, profile),
        _dedup_key(frame, profile),
    )


def normalise(frame: Any, profile: Profile) -> list[Event] | Problem:
    """The events one received frame carries; unknown types yield no event (servers send many)."""
    if not isinstance(frame, dict):
        return Problem(f"the frame is JSON but not an object ({type(frame).__name__})")
    type_name = frame.get("type")
    if not isinstance(type_name, str) or not type_name:
        return Problem("the frame has no string 'type'")
    if type_name in profile.batches:
        return _unbatch(frame, profile.batches[type_name], profile)
    if type_name in profile.wrappers:
        inner = first_value(frame, (profile.wrappers[type_name],))
        if isinstance(inner, str) and inner in profile.types:
            type_name = inner
    kind = profile.types.get(type_name)
    if kind is None:
        return []
    return [_event(frame, type_name, kind, profile)]


def _unbatch(frame: dict[str, Any], field: str, profile: Profile) -> list[Event] | Problem:
    groups = frame.get(field)
    events: list[Event] = []
    if isinstance(groups, list):  # a list of whole frames
        for item in groups:
            inner = normalise(item, profile)
            if isinstance(inner, Problem):
                return Problem(f"a batched event cannot be normalised: {inner.reason}")
            events.extend(inner)
        return events
    if not isinstance(groups, dict):
        return Problem(f"the batch's '{field}' is neither an object nor a list")
    for type_name, items in groups.items():
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return Problem(f"the batch's '{field}.{type_name}' is not a list of objects")
        kind = profile.types.get(type_name)
        if kind is None:
            continue
        for item in items:
            events.append(_event({"type": type_name, **item}, type_name, kind, profile))
    return events
