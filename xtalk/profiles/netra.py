"""The ``netra`` wire profile: the Netra agent backend, every variant of NETRA_PROTOCOL.md §4.

Three envelope families live at once (bridge with ``payload`` or ``data``, the flat or nested
emitter marked ``critical``, and misc frames with ``message_id``); ids are looked up at the top
level, then under ``data``, ``payload``, ``data.context`` and ``data.result``. ``reasoning`` is
``agent_thinking``. Heartbeats, pongs, acks, progress updates and welcomes are noise.
"""

from __future__ import annotations

from xtalk.core.profile import Condition, EventKind, Fingerprint, Path, Profile


def _ids(name: str) -> tuple[Path, ...]:
    return (
        (name,),
        ("data", name),
        ("payload", name),
        ("data", "context", name),
        ("payload", "context", name),
        ("data", "result", name),
        ("metadata", name),
    )


_ENGINE_ID: tuple[Path, ...] = (
    ("engine_id",),
    ("data", "context", "engine_id"),
    ("payload", "context", "engine_id"),
    ("data", "engine_id"),
    ("payload", "engine_id"),
    ("metadata", "engine_id"),
    ("context", "engine_id"),
)

_TYPES: dict[str, EventKind] = {
    "agent_started": EventKind.STARTED,
    "agent_thinking": EventKind.THINKING,
    "reasoning": EventKind.THINKING,  # the emitter's known bug: thinking sent as "reasoning"
    "tool_executing": EventKind.TOOL_EXECUTING,
    "tool_completed": EventKind.TOOL_COMPLETED,
    "agent_completed": EventKind.COMPLETED,
    "agent_error": EventKind.FAILED,
    "agent_death": EventKind.FAILED,
    "partial_result": EventKind.RUN_OTHER,
    "final_report": EventKind.RUN_OTHER,
    "agent_fallback": EventKind.RUN_OTHER,
    "stream_chunk": EventKind.RUN_OTHER,
    "tool_error": EventKind.RUN_OTHER,
    "progress_update": EventKind.NOISE,
    "agent_progress": EventKind.NOISE,
    "thread_created": EventKind.NOISE,
    "heartbeat": EventKind.NOISE,
    "heartbeat_ack": EventKind.NOISE,
    "ping": EventKind.NOISE,
    "pong": EventKind.NOISE,
    "ack": EventKind.NOISE,
    "system_message": EventKind.NOISE,
    "connection_established": EventKind.WELCOME,
    "factory_connection_established": EventKind.WELCOME,
    "isolated_connection_established": EventKind.WELCOME,
    "legacy_connection_established": EventKind.WELCOME,
    "error": EventKind.SERVER_ERROR,
    "error_message": EventKind.SERVER_ERROR,
}

_FINGERPRINTS: tuple[Fingerprint, ...] = (
    # Engines: no field names the engine outright; engine_id's shape and its flag do.
    Fingerprint(
        "engine",
        "user_execution_engine",
        (Condition(_ENGINE_ID, "startswith", "user_engine_"),),
    ),
    Fingerprint(
        "engine",
        "request_scoped_engine",
        (Condition(_ENGINE_ID, "not_startswith", "user_engine_"),),
    ),
    # Emitter paths: critical marks the unified emitter; the bridge nests under payload (older)
    # or data (newer).
    Fingerprint("envelope", "emitter", (Condition((("critical",),), "eq", True),)),
    Fingerprint(
        "envelope",
        "bridge_payload",
        (
            Condition((("critical",),), "absent"),
            Condition((("run_id",),), "present"),
            Condition((("payload",),), "is_dict"),
        ),
    ),
    Fingerprint(
        "envelope",
        "bridge_data",
        (
            Condition((("critical",),), "absent"),
            Condition((("run_id",),), "present"),
            Condition((("data",),), "is_dict"),
        ),
    ),
)

NETRA = Profile(
    name="netra",
    types=_TYPES,
    canonical={"reasoning": "agent_thinking", "agent_death": "agent_death"},
    wrappers={"system_message": ("data", "event"), "agent_progress": ("data", "event")},
    batches={"event_batch": "events"},
    run_id=_ids("run_id"),
    user_id=_ids("user_id"),
    thread_id=_ids("thread_id"),
    agent_name=_ids("agent_name"),
    tool_name=_ids("tool_name"),
    tool_call_id=_ids("execution_id"),
    welcome_user_id=(("data", "user_id"), ("user_id",)),
    welcome_mode=(("data", "mode"), ("mode",)),
    ignore_for_dedup=frozenset(),
    fingerprints=_FINGERPRINTS,
    request_text=(
        ("payload", "user_request"),
        ("payload", "content"),
        ("payload", "message"),
        ("payload", "text"),
        ("user_request",),
        ("content",),
        ("message",),
        ("text",),
    ),
    refusal=(Condition((("error_code",), ("data", "error_code"), ("payload", "error_code")), "eq", "AUTH_FAILED"),),
    request_types=frozenset(
        {"start_agent", "user_message", "chat", "chat_message", "agent_request", "execute_agent"}
    ),
)
