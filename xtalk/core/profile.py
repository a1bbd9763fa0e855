"""A wire profile: what differs between backends, as data.

The checker never names an event type, an id path or an envelope shape in code; it asks the
profile. A profile says which frame types mean which lifecycle step, where ids live (first path
that holds a value wins), which frames are noise, how wrappers and batches unpack, and which
fields fingerprint an engine or emitter path. ``xtalk.profiles`` holds the concrete profiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

Path = tuple[str, ...]


class EventKind(str, Enum):
    STARTED = "agent_started"
    THINKING = "agent_thinking"
    TOOL_EXECUTING = "tool_executing"
    TOOL_COMPLETED = "tool_completed"
    COMPLETED = "agent_completed"
    FAILED = "agent_failed"  # agent_error / agent_death: the request's final event, outcome failed
    RUN_OTHER = "run_other"  # belongs to a run but has no place in its lifecycle (partial_result)
    NOISE = "noise"  # heartbeats, pongs, acks, progress: never ordering, never fingerprints
    WELCOME = "welcome"
    SERVER_ERROR = "server_error"  # an error frame from the server


@dataclass(frozen=True, slots=True)
class Condition:
    """A test on a frame: the first of ``paths`` that holds a value is compared with ``value``."""

    paths: tuple[Path, ...]
    op: Literal["present", "absent", "eq", "ne", "startswith", "not_startswith", "is_dict"]
    value: Any = None

    def holds(self, frame: dict[str, Any]) -> bool:
        found = _first(frame, self.paths)
        if self.op == "absent":
            return found is None
        if self.op == "ne":
            return bool(found != self.value)
        if found is None:
            return False
        if self.op == "present":
            return True
        if self.op == "eq":
            return bool(found == self.value)
        if self.op == "is_dict":
            return isinstance(found, dict)
        if not isinstance(found, str):
            return False
        if self.op == "startswith":
            return found.startswith(self.value)
        return not found.startswith(self.value)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``name`` is what the event shows when all conditions hold; within one ``group`` a run must
    show one name only (two names in one group → ``mixed_engine_run``)."""

    group: str
    name: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class PhaseRule:
    """A frame of type ``type`` is a ``kind`` event when every condition holds (first rule that
    holds wins; a type named by rules and by ``types`` tries the rules first). ``name`` is the
    canonical type reported for it (a step upsert whose ``end`` is set reads ``agent_completed``)."""

    type: str
    kind: EventKind
    conditions: tuple[Condition, ...] = ()
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    types: dict[str, EventKind]  # frame type → lifecycle step (aliases included)
    canonical: dict[str, str]  # frame type → the name reported (reasoning → agent_thinking)
    wrappers: dict[str, Path]  # frame type whose real type sits at a path (system_message)
    batches: dict[str, str]  # frame type → field holding {type: [events]}
    run_id: tuple[Path, ...]
    user_id: tuple[Path, ...]
    thread_id: tuple[Path, ...]
    agent_name: tuple[Path, ...]
    tool_name: tuple[Path, ...]
    tool_call_id: tuple[Path, ...]
    welcome_user_id: tuple[Path, ...]
    welcome_mode: tuple[Path, ...]
    ignore_for_dedup: frozenset[str]  # further top-level fields that differ between deliveries
    fingerprints: tuple[Fingerprint, ...]
    request_text: tuple[Path, ...]  # where a sent request carries its text
    request_types: frozenset[str]  # client frame types that ask an agent for something
    retry_field: str = "attempt"  # a retried frame says so here (2, 3, ...)
    stamp_field: str = "timestamp"  # a retry may carry a new time stamp
    short_id_suffix: str = "..."  # welcome ids may be a prefix followed by this
    short_id_length: int = 8
    type_path: tuple[Path, ...] = (("type",),)  # where a received frame names its type (event name)
    rules: tuple[PhaseRule, ...] = ()  # phases decided by a field's value or prefix
    step_id: tuple[Path, ...] = ()  # an event's own step or message id
    parent_id: tuple[Path, ...] = ()  # the id of the step it hangs under
    request_echo: tuple[Path, ...] = ()  # where a sent frame carries the client message id echoed as a parent
    refusal: tuple[Condition, ...] = ()  # an error frame for which all hold refuses the credentials (a client error)


def _first(frame: dict[str, Any], paths: tuple[Path, ...]) -> Any:
    for path in paths:
        node: Any = frame
        for key in path:
            if not isinstance(node, dict):
                node = None
                break
            node = node.get(key)
            if node is None:
                break
        if node is not None:
            return node
    return None


def first_value(frame: dict[str, Any], paths: tuple[Path, ...]) -> Any:
    """The value at the first of ``paths`` that holds one (``None`` when none does)."""
    return _first(frame, paths)


def first_str(frame: dict[str, Any], paths: tuple[Path, ...]) -> str | None:
    value = _first(frame, paths)
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else str(value)
