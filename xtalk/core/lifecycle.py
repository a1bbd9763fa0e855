"""One request's life: its events in order, judged against the legal sequence of a run.

A run may nest agents (the supervisor and each sub-agent, under one run id, one after another):
``agent_started`` pushes an agent, ``agent_completed`` pops it (by name when the name is on the
stack, else the innermost), and the request is answered when the stack empties again — the
outermost agent completed — or with ``agent_error`` / ``agent_death`` (a failed outcome).

Judgements, each about one event (the caller has already ruled out cross-user kinds):

- an event after the final one → ``event_after_completion`` (a second completion without a run
  id right after the final one is the misc emitter's echo, and is not counted; when the echo
  came first and made the run final, the run's own completion after it is the other half of the
  pair, and is not counted either: two emitters race, and NETRA_PROTOCOL fixes no order; and when
  a completion naming an agent this user never saw start closed the outermost agent, that
  agent's own completion after it is not counted: the sub-agent's start went elsewhere);
- a ``tool_completed`` whose ``tool_executing`` comes later, or thinking / tools before an
  ``agent_started`` that comes later → ``out_of_order``;
- a finished (not failed) run without an ``agent_started``, or with a tool call missing its
  other half → ``incomplete_run``, only — never also ``out_of_order``; the caller asks
  ``missing()`` a little after the final event, so that a late half counts as late, not missing;
- a second name within one fingerprint group (two emitters, two engines) → ``mixed_engine_run``,
  once per request and group (error events excepted: the bridge sends them for every path).

The class decides nothing about ownership and reads no clock: it is fed events in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xtalk.core.anomaly import AnomalyKind
from xtalk.core.normalise import Event
from xtalk.core.profile import EventKind

#: How many (label, line) steps of a request's sequence are kept for engine comparisons.
SEQUENCE_LIMIT = 64

_STARTED = EventKind.STARTED
_THINKING = EventKind.THINKING
_TOOL_EXECUTING = EventKind.TOOL_EXECUTING
_TOOL_COMPLETED = EventKind.TOOL_COMPLETED
_COMPLETED = EventKind.COMPLETED
_FAILED = EventKind.FAILED


@dataclass(frozen=True, slots=True)
class Judgement:
    kind: AnomalyKind
    witness: tuple[int, ...]
    why: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    call: str | None  # the execution id, when the envelope has one
    name: str | None
    line: int

    @property
    def label(self) -> str:
        return self.call or self.name or "(unnamed)"


def _take(pool: list[ToolCall], call: str | None, name: str | None) -> ToolCall | None:
    """The call in ``pool`` that ``call``/``name`` is the other half of. Execution ids decide when
    both halves have one; else tool names (one emitter family has ids, the bridge has none)."""
    if call is not None:
        for i, other in enumerate(pool):
            if other.call == call:
                return pool.pop(i)
    for i, other in enumerate(pool):
        if (other.call is None or call is None) and (other.name is None or name is None or other.name == name):
            return pool.pop(i)
    return None


@dataclass(slots=True)
class Lifecycle:
    stack: list[str | None] = field(default_factory=list)
    started: bool = False
    final_line: int | None = None
    failed: bool = False
    echo_first: bool = False  # the final event was a run-id-less completion (the misc echo, first)
    with_run_id: bool = False  # an event with a run id came before the final one
    stray_for: str | None = None  # the outermost agent a stray completion closed (its own may follow)
    elsewhere: list[str | None] = field(default_factory=list)  # agents pushed from copies to other users
    pre_start: list[tuple[str, int]] = field(default_factory=list)
    open_tools: list[ToolCall] = field(default_factory=list)  # executing, not yet completed
    early_tools: list[ToolCall] = field(default_factory=list)  # completed, not yet executing
    fingerprints: dict[str, tuple[str, int]] = field(default_factory=dict)
    mixed_groups: set[str] = field(default_factory=set)
    sequence: list[tuple[str, int]] = field(default_factory=list)
    first_seen: dict[EventKind, float] = field(default_factory=dict)
    settled_prints: tuple[tuple[str, str], ...] | None = None  # fingerprints seen that change nothing
    reference: bool = False  # no fast path (CheckConfig.reference)

    @property
    def final(self) -> bool:
        return self.final_line is not None

    def observe(self, event: Event, line: int, t: float, counted: bool) -> list[Judgement]:
        """Feed one event delivered to the request's own user. ``counted``: the event already
        yielded a finding of an earlier kind, so it updates the state but is not judged again."""
        if self.final_line is not None:
            if event.kind is _COMPLETED and (event.run_id is None or self.echo_first):
                if event.run_id is not None:
                    self.echo_first = False  # the echo and the completion it echoes: one pair, once
                return []  # the misc emitter's run-id-less echo of the completion, after or before it
            if event.kind is _COMPLETED and self.stray_for is not None and event.agent == self.stray_for:
                self.stray_for = None  # the outermost agent's own completion, after a stray one
                return []
            self._late(event, line)
            return _after_final(self.final_line, event, line, counted)
        out: list[Judgement] = []
        kind = event.kind
        if event.run_id is not None:
            self.with_run_id = True
        if kind not in self.first_seen:
            self.first_seen[kind] = t
        if len(self.sequence) < SEQUENCE_LIMIT:
            # Types only: engine paths may name their tools and sub-agents differently and still
            # run the same pipeline; a missing, extra or reordered step is what diverges.
            label = event.type
            self.sequence.append((label, line))
        # agent_error / agent_death come from the bridge whatever emitter served the run (Netra
        # sends them nowhere else), so they carry no engine evidence. Fingerprints identical to
        # ones that left every group showing their own name change nothing (the fast path: the
        # normaliser gives equal fingerprints as one tuple).
        prints = event.fingerprints
        if prints and kind is not _FAILED and (prints is not self.settled_prints or self.reference):
            for group, name in prints:
                seen = self.fingerprints.get(group)
                if seen is None:
                    self.fingerprints[group] = (name, line)
                elif seen[0] != name and group not in self.mixed_groups and not counted:
                    self.mixed_groups.add(group)
                    out.append(
                        Judgement(
                            AnomalyKind.MIXED_ENGINE_RUN,
                            (seen[1], line),
                            f"its {group} shows {seen[0]} (line {seen[1]}) and then {name} (line {line})",
                        )
                    )
                    counted = True
            fingerprints = self.fingerprints
            if all(fingerprints[group][0] == name for group, name in prints):
                self.settled_prints = prints
        if kind is _STARTED:
            if not self.started and self.pre_start and not counted:
                first_type, first_line = self.pre_start[0]
                out.append(
                    Judgement(
                        AnomalyKind.OUT_OF_ORDER,
                        (first_line, line),
                        f"{first_type} (line {first_line}) came before the run's agent_started",
                    )
                )
            self.started = True
            if event.agent in self.elsewhere:
                self.elsewhere.remove(event.agent)  # its copy to another user already nested it
            else:
                self.stack.append(event.agent)
        elif kind is _THINKING:
            if not self.started and not counted:  # an event already counted offends once
                self.pre_start.append((event.type, line))
        elif kind is _TOOL_EXECUTING:
            if not self.started and not counted:
                self.pre_start.append((event.type, line))
            done = _take(self.early_tools, event.tool, event.tool_name)
            if done is None:
                self.open_tools.append(ToolCall(event.tool, event.tool_name, line))
            elif not counted:
                out.append(
                    Judgement(
                        AnomalyKind.OUT_OF_ORDER,
                        (done.line, line),
                        f"tool {done.label} completed (line {done.line}) before it started executing",
                    )
                )
        elif kind is _TOOL_COMPLETED:
            if _take(self.open_tools, event.tool, event.tool_name) is None:
                self.early_tools.append(ToolCall(event.tool, event.tool_name, line))
        elif kind is _COMPLETED:
            if event.agent is not None and event.agent in self.stack:
                index = len(self.stack) - 1 - self.stack[::-1].index(event.agent)
                del self.stack[index:]
            elif self.stack:
                popped = self.stack.pop()
                if not self.stack and event.agent is not None and popped is not None:
                    # A completion naming an agent whose start this user never heard (it went to
                    # another user, or was never sent) closed the outermost agent: the outermost
                    # one's own completion may still come, and pairs with it.
                    self.stray_for = popped
            if not self.stack:
                self.final_line = line
                self.echo_first = event.run_id is None and self.with_run_id
        elif kind is _FAILED:
            self.final_line = line
            self.failed = True
        return out

    def started_elsewhere(self, event: Event) -> None:
        """An agent of this request's run started in a delivery to another user (a leak): the
        run is judged as a whole, so the agent still nests this user's later events (its
        completion closes it, not the outermost agent). The delivery was counted where it went;
        nothing is judged here."""
        if self.final_line is not None or event.agent in self.stack:
            return  # its own copy, or a copy of one of its agents, is already on the stack
        self.started = True
        self.stack.append(event.agent)
        self.elsewhere.append(event.agent)

    def _late(self, event: Event, line: int) -> None:
        """A late event still fills its gap: it is late, not missing."""
        if event.kind is EventKind.STARTED:
            self.started = True
        elif event.kind is EventKind.TOOL_COMPLETED:
            if _take(self.open_tools, event.tool, event.tool_name) is None:
                self.early_tools.append(ToolCall(event.tool, event.tool_name, line))
        elif event.kind is EventKind.TOOL_EXECUTING:
            if _take(self.early_tools, event.tool, event.tool_name) is None:
                self.open_tools.append(ToolCall(event.tool, event.tool_name, line))

    def missing(self) -> tuple[str, tuple[int, ...]] | None:
        """What a finished, successful run lacks, with the lines that show it; None if nothing."""
        if not self.final or self.failed:
            return None
        gaps: list[str] = []
        lines: list[int] = []
        if not self.started:
            gaps.append("agent_started")
            lines.extend(line for _, line in self.pre_start[:1])
        for opened in self.open_tools:
            gaps.append(f"tool_completed for tool {opened.label}")
            lines.append(opened.line)
        for done in self.early_tools:
            gaps.append(f"tool_executing for tool {done.label}")
            lines.append(done.line)
        if not gaps:
            return None
        assert self.final_line is not None
        return "; ".join(gaps), tuple(sorted(set(lines + [self.final_line])))


def _after_final(final_line: int, event: Event, line: int, counted: bool) -> list[Judgement]:
    if counted:
        return []
    return [
        Judgement(
            AnomalyKind.EVENT_AFTER_COMPLETION,
            (final_line or line, line),
            f"{event.type} arrived after the request's final event (line {final_line})",
        )
    ]


@dataclass(slots=True)
class SettledLife:
    """What is kept of a finished run's ``Lifecycle`` once its request is stripped (``outcomes``):
    its final line, for ``event_after_completion``. Its gaps were judged when it was stripped, so
    what a late event would fill is never asked again, and nothing else is needed."""

    final_line: int
    failed: bool

    @property
    def final(self) -> bool:
        return True

    def observe(self, event: Event, line: int, t: float, counted: bool) -> list[Judgement]:
        """As ``Lifecycle.observe`` after the final event."""
        if event.kind is EventKind.COMPLETED and event.run_id is None:
            return []  # the misc emitter's run-id-less echo of the completion
        return _after_final(self.final_line, event, line, counted)

    def missing(self) -> tuple[str, tuple[int, ...]] | None:
        return None  # judged when the request was stripped
