"""Frames → normalised events, by the profile.

``normalise(frame, profile)`` returns the events a received frame carries (a batch carries many),
or a ``Problem`` when the frame cannot be normalised (not an object, no type, a malformed batch).
The result names its lifecycle step (``EventKind``), the ids wherever the envelope keeps them,
the engine fingerprints, and a dedup key that two deliveries of the same event share even when a
retry added an ``attempt`` field and a new time stamp, at the top level or one level down in the
envelope's nests (``data``, ``payload``: the older emitter stamps ``data.timestamp`` too, so its
retry re-stamps both).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import orjson

from xtalk.core.ids import Identity, RunId, ThreadId
from xtalk.core.profile import EventKind, Path, Profile, first_value


@dataclass(slots=True)
class Event:
    """One normalised event (treated as immutable; not a frozen dataclass because one is built per
    received event, and a frozen dataclass's ``__init__`` costs about six times as much)."""

    kind: EventKind
    type: str  # the canonical type name (``reasoning`` reads ``agent_thinking``)
    run_id: RunId | None
    user_id: Identity | None  # the identity the event claims, as shown
    thread_id: ThreadId | None
    agent: str | None
    tool: str | None  # the tool call's execution id, where the envelope carries one
    tool_name: str | None
    fingerprints: tuple[tuple[str, str], ...]  # (group, name)
    dedup: int  # the frame without its retry counter and time stamp
    stamp: Any = None  # the frame's time stamp
    retry: bool = False  # the frame says it is a retry (attempt >= 2)
    mode: str | None = None  # welcomes: the engine path the server says it serves
    step: str | None = None  # its own step or message id (profiles with parent chains)
    parent: str | None = None  # the id of the step it hangs under
    item: dict[str, Any] | None = None  # a batched event's own object: its markers are its own, not the frame's


_dumps = orjson.dumps
_NOISE = EventKind.NOISE
_SERVER_ERROR = EventKind.SERVER_ERROR
_WELCOME = EventKind.WELCOME
_TOOL_EXECUTING = EventKind.TOOL_EXECUTING
_TOOL_COMPLETED = EventKind.TOOL_COMPLETED


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str


def _walk(frame: dict[str, Any], paths: tuple[Path, ...]) -> Any:
    for path in paths:
        node: Any = frame
        for key in path:
            node = node.get(key) if node.__class__ is dict else None
            if node is None:
                break
        if node is not None:
            return node
    return None


Predicate = Callable[[dict[str, Any]], bool]
Rule = tuple[str, str, tuple[Predicate, ...]]


Getter = Callable[[dict[str, Any]], Any]


def _getter(paths: tuple[Path, ...]) -> Getter:
    """``paths`` compiled to one closure (the hot path calls several per event): the value at the
    first path that holds one. The first path is looked up inline and the rest only when it holds
    nothing (a shape-narrowed plan's first path nearly always holds the value)."""
    if not paths:
        return lambda frame: None
    first = paths[0]
    if len(paths) == 1:
        if len(first) == 1:
            key = first[0]
            return lambda frame: frame.get(key)
        if len(first) == 2:
            outer, inner = first
            return lambda frame: node.get(inner) if (node := frame.get(outer)).__class__ is dict else None
        return lambda frame: _walk(frame, (first,))
    rest = _getter(paths[1:])
    if len(first) == 1:
        key = first[0]
        return lambda frame: value if (value := frame.get(key)) is not None else rest(frame)
    if len(first) == 2:
        outer, inner = first

        def get(frame: dict[str, Any]) -> Any:
            node = frame.get(outer)
            if node.__class__ is dict:
                value = node.get(inner)
                if value is not None:
                    return value
            return rest(frame)

        return get
    return lambda frame: value if (value := _walk(frame, (first,))) is not None else rest(frame)


def id_text(value: Any) -> str | None:
    """An id as text: a string as it is, a number as its digits, a container or None as None."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, (dict, list)):
        return None
    return str(value)


def _predicate(paths: tuple[Path, ...], op: str, expected: Any) -> Predicate:
    """A fingerprint condition compiled to one closure (the hot path calls it per event)."""
    if len(paths) == 1 and len(paths[0]) == 1:  # one top-level field: no getter in between
        key = paths[0][0]
        if op == "absent":
            return lambda frame: frame.get(key) is None
        if op == "present":
            return lambda frame: frame.get(key) is not None
        if op == "eq":
            return lambda frame: bool(frame.get(key) == expected)
        if op == "ne":
            return lambda frame: bool(frame.get(key) != expected)
        if op == "is_dict":
            return lambda frame: isinstance(frame.get(key), dict)
    get = _getter(paths)
    if op == "absent":
        return lambda frame: get(frame) is None
    if op == "present":
        return lambda frame: get(frame) is not None
    if op == "eq":
        return lambda frame: bool(get(frame) == expected)
    if op == "ne":
        return lambda frame: bool(get(frame) != expected)
    if op == "is_dict":
        return lambda frame: isinstance(get(frame), dict)
    if op == "startswith":
        return lambda frame: _startswith(get(frame), expected)
    return lambda frame: (value := get(frame)) is not None and not _startswith(value, expected) and isinstance(value, str)


def _startswith(value: Any, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The profile's paths narrowed to one frame shape (its top-level keys): a path whose first
    key the frame lacks can never match, so most fields keep one candidate path, not seven."""

    run_id: Getter
    user_id: Getter
    thread_id: Getter
    agent_name: Getter
    tool_call_id: Getter
    tool_name: Getter
    welcome_user_id: Getter
    welcome_mode: Getter
    step_id: Getter
    parent_id: Getter
    rules: tuple[Rule, ...]
    drop: tuple[str, ...]  # the shape's fields that the dedup key leaves out (retry counter, time stamp)
    stamp: bool  # the shape has the profile's time stamp field
    retry: bool  # the shape has the profile's retry field
    nests: tuple[str, ...]  # the shape's envelope nests, where a retry counter or time stamp may also sit


class Normaliser:
    """The profile, compiled for speed: one instance per checker. Plans are cached per frame
    shape; a backend sends a handful of shapes."""

    PLAN_CACHE = 4096

    def __init__(self, profile: Profile, reference: bool = False) -> None:
        self.profile = profile
        self.reference = reference  # no fast paths (CheckConfig.reference)
        self.plans: dict[tuple[str, ...], _Plan] = {}
        self.interned: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
        self.ignore = profile.ignore_for_dedup | {profile.retry_field, profile.stamp_field}
        self.stamp_field = profile.stamp_field
        self.retry_field = profile.retry_field
        # The envelope's nests: the first keys of the id paths that reach below the top level.
        self.nests = tuple(dict.fromkeys(
            path[0] for paths in (profile.run_id, profile.user_id, profile.thread_id) for path in paths if len(path) > 1
        ))
        self.canonical = profile.canonical
        self.type_of = _getter(profile.type_path)
        self.run_id_of = _getter(profile.run_id)  # the raw value (the client's tracker paces on it)
        self.chained = bool(profile.step_id)
        # Phase rules per frame type, compiled once: (kind, conditions, the name reported).
        self.rules: dict[str, list[tuple[EventKind, tuple[Predicate, ...], str]]] = {}
        for rule in profile.rules:
            predicates = tuple(_predicate(c.paths, c.op, c.value) for c in rule.conditions)
            self.rules.setdefault(rule.type, []).append((rule.kind, predicates, rule.name or rule.type))
        # The types whose kind is the type's alone (no rule, wrapper or batch decides it).
        # Each with the name reported, one string object per type (not one per frame: requests
        # keep their events' types for engine comparisons).
        self.direct: dict[str, tuple[EventKind, str]] = {
            name: (kind, self.canonical.get(name, name)) for name, kind in profile.types.items()
            if name not in self.rules and name not in profile.wrappers and name not in profile.batches
        }

    def _plan(self, keys: tuple[str, ...]) -> _Plan:
        present = set(keys)

        def narrow(paths: tuple[Path, ...]) -> tuple[Path, ...]:
            return tuple(p for p in paths if p[0] in present)

        def get(paths: tuple[Path, ...]) -> Getter:
            return _getter(narrow(paths))

        profile = self.profile
        rules: list[Rule] = []
        for rule in profile.fingerprints:
            conditions: list[Predicate] = []
            possible = True
            for condition in rule.conditions:
                paths = narrow(condition.paths)
                if not paths:
                    if condition.op == "absent":
                        continue  # holds whatever the values
                    possible = False
                    break
                conditions.append(_predicate(paths, condition.op, condition.value))
            if possible:
                rules.append((rule.group, rule.name, tuple(conditions)))
        plan = _Plan(
            get(profile.run_id), get(profile.user_id), get(profile.thread_id),
            get(profile.agent_name), get(profile.tool_call_id), get(profile.tool_name),
            get(profile.welcome_user_id), get(profile.welcome_mode), get(profile.step_id), get(profile.parent_id),
            tuple(rules),
            tuple(k for k in keys if k in self.ignore), self.stamp_field in present, self.retry_field in present,
            tuple(n for n in self.nests if n in present),
        )
        if len(self.plans) >= self.PLAN_CACHE:
            self.plans.clear()
        self.plans[keys] = plan
        return plan

    def _fingerprints(self, frame: dict[str, Any], rules: tuple[Rule, ...]) -> tuple[tuple[str, str], ...]:
        """The frame's fingerprints; equal results are one tuple object (a run's events show the
        same ones, so the lifecycle can tell "as before" by identity)."""
        if not rules:
            return ()
        found: dict[str, str] = {}
        for group, name, predicates in rules:
            if group in found:
                continue
            for holds in predicates:
                if not holds(frame):
                    break
            else:
                found[group] = name
        prints = tuple(found.items())
        interned = self.interned.get(prints)
        if interned is None:
            if len(self.interned) >= self.PLAN_CACHE:
                self.interned.clear()
            interned = self.interned[prints] = prints
        return interned

    def _is_retry(self, frame: dict[str, Any]) -> bool:
        attempt = frame.get(self.retry_field)
        return attempt is not None and attempt not in (0, 1, "0", "1")

    def _nested(self, frame: dict[str, Any], whole: dict[str, Any], nests: tuple[str, ...]) -> tuple[
            dict[str, Any], tuple[Any, ...], bool]:
        """``whole`` (the frame less its top-level retry counter and stamp) also less the nests'
        own (a retry re-stamps ``data.timestamp`` too); the nests' stamps, and whether a nest says
        it is a retry. Frames whose nests carry neither come back as they are."""
        stamp_field, retry_field = self.stamp_field, self.retry_field
        stamps: list[Any] = []
        retry = False
        for nest in nests:
            node = frame.get(nest)
            if node.__class__ is dict and (stamp_field in node or retry_field in node):
                if whole is frame:
                    whole = frame.copy()
                if stamp_field in node:
                    stamps.append(node[stamp_field])
                if retry_field in node:
                    retry = retry or self._is_retry(node)
                whole[nest] = {k: v for k, v in node.items() if k != stamp_field and k != retry_field}
        return whole, tuple(stamps), retry

    def event(self, frame: dict[str, Any], type_name: str, kind: EventKind, shown: str | None = None) -> Event:
        keys = tuple(frame)
        plan = self.plans.get(keys)
        if plan is None:
            plan = self._plan(keys)
        if kind is _NOISE or kind is _SERVER_ERROR:
            noise_run = id_text(plan.run_id(frame))
            return Event(kind, type_name, RunId(noise_run) if noise_run else None, None, None, None, None, None, (), 0)
        if kind is _WELCOME:
            shown = id_text(plan.welcome_user_id(frame))
            return Event(kind, type_name, None, Identity(shown) if shown is not None else None, None, None, None,
                         None, (), 0, mode=id_text(plan.welcome_mode(frame)))
        # id_text(value) inline: ids are almost always strings already.
        run: Any = plan.run_id(frame)
        if run is not None and run.__class__ is not str:
            run = id_text(run)
        user: Any = plan.user_id(frame)
        if user is not None and user.__class__ is not str:
            user = id_text(user)
        thread: Any = plan.thread_id(frame)
        if thread is not None and thread.__class__ is not str:
            thread = id_text(thread)
        agent: Any = plan.agent_name(frame)
        if agent is not None and agent.__class__ is not str:
            agent = id_text(agent)
        tool = tool_name = None
        if kind is _TOOL_EXECUTING or kind is _TOOL_COMPLETED:
            tool_name = id_text(plan.tool_name(frame))
            tool = id_text(plan.tool_call_id(frame))
        drop = plan.drop  # ``_dedup`` inline
        if drop:
            whole = frame.copy()  # the other fields keep their order
            for key in drop:
                del whole[key]
        else:
            whole = frame
        stamp: Any = frame.get(self.stamp_field) if plan.stamp else None
        retry = self._is_retry(frame) if plan.retry else False
        if plan.nests:
            whole, stamps, nested_retry = self._nested(frame, whole, plan.nests)
            if stamps:
                stamp = (stamp, *stamps)  # a copy repeats every stamp; a retry may change them all
            retry = retry or nested_retry
        try:
            dedup = hash(_dumps(whole))
        except TypeError:  # integers beyond 64 bits and the like: fall back to the repr
            dedup = hash(repr(whole))
        event = Event(
            kind,
            shown or self.canonical.get(type_name, type_name),
            run or None,
            user,
            thread or None,
            agent,
            tool,
            tool_name,
            self._fingerprints(frame, plan.rules) if plan.rules else (),
            dedup,
            stamp,
            retry,
        )
        if self.chained:
            event.step = id_text(plan.step_id(frame)) or None
            event.parent = id_text(plan.parent_id(frame)) or None
        return event

    def __call__(self, frame: Any) -> list[Event] | Problem:
        """The events one received frame carries; unknown types yield none (servers send many)."""
        if not isinstance(frame, dict):
            return Problem(f"the frame is JSON but not an object ({type(frame).__name__})")
        type_name = self.type_of(frame)
        if not isinstance(type_name, str) or not type_name:
            return Problem("the frame has no string 'type'")
        direct = self.direct.get(type_name) if not self.reference else None
        if direct is not None:  # the fast path: a type that is neither ruled, wrapped nor batched
            return [self.event(frame, type_name, direct[0], direct[1])]
        profile = self.profile
        rules = self.rules.get(type_name) if self.rules else None
        if rules is not None:
            for rule_kind, predicates, shown in rules:
                if all(holds(frame) for holds in predicates):
                    return [self.event(frame, type_name, rule_kind, shown)]
        kind = profile.types.get(type_name)
        if kind is None or type_name in profile.wrappers:
            if type_name in profile.batches:
                return self._unbatch(frame, profile.batches[type_name])
            if type_name in profile.wrappers:
                inner = first_value(frame, (profile.wrappers[type_name],))
                if isinstance(inner, str) and inner in profile.types:
                    type_name = inner
                    kind = profile.types[inner]
            if kind is None:
                return []
        return [self.event(frame, type_name, kind)]

    def _unbatch(self, frame: dict[str, Any], field: str) -> list[Event] | Problem:
        groups = frame.get(field)
        events: list[Event] = []
        if isinstance(groups, list):  # a list of whole frames
            for item in groups:
                inner = self(item)
                if isinstance(inner, Problem):
                    return Problem(f"a batched event cannot be normalised: {inner.reason}")
                for event in inner:
                    if event.item is None:
                        event.item = item
                events.extend(inner)
            return events
        if not isinstance(groups, dict):
            return Problem(f"the batch's '{field}' is neither an object nor a list")
        for type_name, items in groups.items():
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                return Problem(f"the batch's '{field}.{type_name}' is not a list of objects")
            kind = self.profile.types.get(type_name)
            if kind is None:
                continue
            for item in items:
                whole = {"type": type_name, **item}
                event = self.event(whole, type_name, kind)
                event.item = whole
                events.append(event)
        return events


_COMPILED: dict[int, Normaliser] = {}


def normalise(frame: Any, profile: Profile) -> list[Event] | Problem:
    """The events one received frame carries, by ``profile`` (compiled once per profile)."""
    normaliser = _COMPILED.get(id(profile))
    if normaliser is None or normaliser.profile is not profile:
        normaliser = _COMPILED[id(profile)] = Normaliser(profile)
    return normaliser(frame)
