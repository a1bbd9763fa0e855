"""The envelope families in which Netra's emitters wrap the same agent event.

One ``Step`` (what the agent did) plus one ``Stamp`` (the ids the emitting object believes in)
renders into a frame of one family (NETRA_PROTOCOL §4, shapes as in ``netra_frames.jsonl``):

- ``emitter``: the UnifiedWebSocketEmitter's flat frame, ``critical: true``, ``request_id``
  ``ws_req_...``; retries add ``attempt``; thinking may go out as ``type: "reasoning"``.
- ``emitter_nested``: the older emitter frame ``{"type", "data": {...ids}, "timestamp", "critical"}``.
- ``bridge_data``: AgentWebSocketBridge, newer, details under ``data``; the UserExecutionEngine
  fingerprint (``engine_id`` ``user_engine_...``, ``user_isolated: true``) on the started event.
- ``bridge_payload``: the older bridge, details under ``payload``; the request-scoped engine
  fingerprint (plain ``engine_id``, ``isolated: true``) on the started event.

Invariant: rendering is pure: the ids on a frame are exactly the stamp's, so whatever routes a
frame decides whose ids it carries (which is how the shared-state faults leak).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

FAMILIES: tuple[str, ...] = ("emitter", "emitter_nested", "bridge_data", "bridge_payload")


@dataclass(frozen=True, slots=True)
class Step:
    """One thing a stub agent does, independent of how it is wrapped."""

    type: str  # agent_started | agent_thinking | tool_executing | tool_completed | agent_completed
    agent: str
    text: str = ""  # thinking text, or the final response
    tool: str = ""
    args: dict[str, Any] | None = None
    results: dict[str, Any] | None = None
    execution_id: str = ""
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class Stamp:
    """The ids an emitting object puts on a frame."""

    run_id: str
    user_id: str
    thread_id: str
    request_id: str
    engine_id: str = ""


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def render(
    family: str,
    step: Step,
    stamp: Stamp,
    *,
    attempt: int | None = None,
    reasoning_alias: bool = False,
) -> dict[str, Any]:
    if family == "emitter":
        return _emitter(step, stamp, attempt, reasoning_alias)
    if family == "emitter_nested":
        flat = _emitter(step, stamp, attempt, reasoning_alias)
        kind = flat.pop("type")
        stamp_time = flat.pop("timestamp")
        del flat["critical"]
        flat["timestamp"] = stamp_time
        return {"type": kind, "data": flat, "timestamp": stamp_time, "critical": True}
    if family == "bridge_data":
        print_ = {"engine_id": stamp.engine_id, "user_isolated": True} if stamp.engine_id else {}
        return _bridge(step, stamp, "data", print_)
    if family == "bridge_payload":
        print_ = {"engine_id": stamp.engine_id, "isolated": True} if stamp.engine_id else {}
        return _bridge(step, stamp, "payload", print_)
    raise ValueError(f"unknown envelope family {family!r}")


def _emitter(step: Step, stamp: Stamp, attempt: int | None, reasoning_alias: bool) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "timestamp": iso_now(),
        "critical": True,
        "type": "reasoning" if reasoning_alias and step.type == "agent_thinking" else step.type,
        "user_id": stamp.user_id,
        "thread_id": stamp.thread_id,
        "run_id": stamp.run_id,
        "request_id": stamp.request_id,
        "agent_name": step.agent,
    }
    if step.type == "agent_started":
        frame["task_description"] = "Processing request"
        frame["metadata"] = {"user_tier": "free", "is_priority_queue": False}
        frame["status"] = "started"
    elif step.type == "agent_thinking":
        frame["reasoning"] = step.text
    elif step.type == "tool_executing":
        frame["tool_name"] = step.tool
        frame["tool_args"] = step.args
        frame["parameters"] = step.args
        frame["execution_id"] = step.execution_id
    elif step.type == "tool_completed":
        frame["tool_name"] = step.tool
        frame["results"] = step.results
        frame["duration"] = step.duration_ms / 1000.0
        frame["success"] = True
        frame["execution_id"] = step.execution_id
    elif step.type == "agent_completed":
        frame["status"] = "completed"
        frame["final_response"] = step.text
    if attempt is not None:
        frame["attempt"] = attempt
    return frame


def _bridge(step: Step, stamp: Stamp, nest: str, fingerprint: dict[str, Any]) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": step.type,
        "run_id": stamp.run_id,
        "user_id": stamp.user_id,
        "agent_name": step.agent,
        "timestamp": iso_now(),
    }
    details: dict[str, Any]
    if step.type == "agent_started":
        details = {
            "status": "started",
            "context": {**fingerprint, "thread_id": stamp.thread_id},
            "message": f"{step.agent} has started processing your request",
        }
    elif step.type == "agent_thinking":
        details = {"thought": step.text, "step_number": 1, "thread_id": stamp.thread_id}
    elif step.type == "tool_executing":
        frame["tool_name"] = step.tool
        details = {
            "tool_name": step.tool,
            "parameters": step.args,
            "status": "executing",
            "thread_id": stamp.thread_id,
        }
    elif step.type == "tool_completed":
        frame["tool_name"] = step.tool
        frame["results"] = step.results
        details = {
            "result": step.results,
            "execution_time_ms": step.duration_ms,
            "status": "completed",
            "message": f"{step.agent} completed {step.tool}",
            "thread_id": stamp.thread_id,
        }
    else:  # agent_completed
        details = {
            "status": "completed",
            "result": {"final_response": step.text},
            "thread_id": stamp.thread_id,
        }
    frame[nest] = details
    return frame
