"""The stub agent: what one request makes the backend do, as a list of steps.

A request with text T becomes seven events: the supervisor starts, thinks (the thought echoes T),
hands over to a sub-agent that starts, runs a tool (arguments echo T), gets results (they echo T)
and completes; then the supervisor completes (its final response echoes T). Sub-agent and tool
names vary per run, so nothing downstream can lean on them.

The plain faults rewrite this list before the run starts (``apply_plain_faults``): cut it after
the start, swap the tool events, add an event after the completion, or insert a pseudo-step
(``_garbage``, ``_close``) that the executor turns into a bad frame or a 1011 close.
Invariant: without faults the list is exactly the seven events in the order above.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field

from xtalk.backend.envelopes import Step
from xtalk.backend.faults import FaultPlan

SUPERVISOR = "supervisor"
SUB_AGENTS = ("triage", "data_helper", "optimizations_core", "reporting")
TOOLS = ("search", "query_spend", "fetch_metrics", "summarise_table")
GARBAGE_VARIANTS = ("non_json", "truncated_json", "binary", "oversized")


def plan_steps(text: str, rng: random.Random) -> list[Step]:
    sub = rng.choice(SUB_AGENTS)
    tool = rng.choice(TOOLS)
    execution_id = f"exec_{secrets.token_hex(6)}"
    return [
        Step("agent_started", SUPERVISOR),
        Step("agent_thinking", SUPERVISOR, text=f"Working out how to answer: {text}"),
        Step("agent_started", sub),
        Step("tool_executing", sub, tool=tool, args={"query": text}, execution_id=execution_id),
        Step("tool_completed", sub, tool=tool, execution_id=execution_id,
             results={"summary": f"Results for: {text}", "rows": rng.randint(1, 50)},
             duration_ms=rng.randint(5, 900)),
        Step("agent_completed", sub, text=f"{sub} finished"),
        Step("agent_completed", SUPERVISOR, text=f"Here is the answer to: {text}"),
    ]


def echo_with(step: Step, text: str) -> Step:
    """The same step with its echo of the request text replaced (content_bleed)."""
    from dataclasses import replace

    if step.type == "tool_completed":
        return replace(step, results={**(step.results or {}), "summary": f"Results for: {text}"})
    if step.type == "agent_completed" and step.agent == SUPERVISOR:
        return replace(step, text=f"Here is the answer to: {text}")
    return step


def quoting(step: Step, own: str, quoted: str) -> Step:
    """The same step written from a shared prompt buffer (content_bleed_inflight): the thinking
    reads another request's text instead of its own, the supervisor's answer both texts."""
    from dataclasses import replace

    if step.type == "agent_thinking":
        return replace(step, text=f"Working out how to answer: {quoted}")
    if step.type == "agent_completed" and step.agent == SUPERVISOR:
        return replace(step, text=f"Here is the answer to: {own}. Also asked: {quoted}")
    return step


@dataclass(slots=True)
class PlainFaults:
    """What the plain faults decided for one run (for ground truth and the executor)."""

    acts: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    mixed: Step | None = None  # the step (by identity) sent through another family


def apply_plain_faults(steps: list[Step], plan: FaultPlan) -> tuple[list[Step], PlainFaults]:
    out = PlainFaults()
    if plan.fires("drop_run"):
        steps = steps[:1]
        out.acts.append(("drop_run", {"kept": 1}))
        return steps, out  # nothing else can happen to a run that stops here
    if plan.fires("reorder_tools"):
        i = next(k for k, s in enumerate(steps) if s.type == "tool_executing")
        steps[i], steps[i + 1] = steps[i + 1], steps[i]
        out.acts.append(("reorder_tools", {"swapped": [i, i + 1]}))
    if plan.fires("event_after_completion"):
        steps.append(Step("agent_thinking", SUPERVISOR, text="One more thought after the answer"))
        out.acts.append(("event_after_completion", {"extra": "agent_thinking"}))
    if plan.fires("mixed_emitters"):
        at = plan.rng("mixed_emitters").randint(1, len(steps) - 1)
        out.mixed = steps[at]
        out.acts.append(("mixed_emitters", {"index": at, "type": steps[at].type}))
    if plan.fires("garbage_frames"):
        rng = plan.rng("garbage_frames")
        variant = rng.choice(GARBAGE_VARIANTS)
        at = rng.randint(1, len(steps) - 1)
        steps.insert(at, Step("_garbage", SUPERVISOR, text=variant))
        out.acts.append(("garbage_frames", {"variant": variant, "before": steps[at + 1].type}))
    if plan.fires("abrupt_close"):
        at = plan.rng("abrupt_close").randint(1, len(steps) - 1)
        steps.insert(at, Step("_close", SUPERVISOR))
        out.acts.append(("abrupt_close", {"before": steps[at + 1].type}))
    return steps, out
