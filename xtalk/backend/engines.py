"""Engine paths and agent runs: from a request on a connection to the frames of its run.

A request becomes a ``Run`` (server-minted ``run_id``, the caller's thread as resolved by the
directory, the request text) executed as its own asyncio task, so requests on one connection
may overlap. Between two events the run sleeps a seeded random delay, so users' runs interleave.

The engine path fixes the envelope family and the id formats, consistently within a run:

| path | family | run id | fingerprint |
|---|---|---|---|
| main | emitter (flat, ``critical``) | ``run_<hex>`` | none |
| isolated | bridge, ``data`` | ``run_ws_<hex>`` | ``user_engine_...``, ``user_isolated`` |
| factory | bridge, ``payload`` | ``<thread>_run_<ms>_<hex>`` | ``<uid8>_<run>_<ms>``, ``isolated`` |
| legacy | emitter, nested ``data`` | ``run_<hex>`` | none; one ``SharedFactory`` for all |

Where a run's frames go and whose ids they carry is its *binding*, chosen when the run starts:
its own connection (correct paths) or one of the shared objects of ``mechanisms`` (legacy and
the race faults), which the binding reads at emit time, after the awaits.

``trust_client_ids`` is the one fault decided from the request itself: the run takes the
payload's ``user_id`` and ``thread_id`` over the connection's (NETRA_PROTOCOL §5: "one engine path
takes user_id and thread_id from the client"), is stamped with them, and is routed by that user
id, as Netra's manager routes. Ordinary requests carry neither a foreign user id nor a foreign
thread, so it acts only on the probes that send them.

Invariant (correct paths, no faults): every frame of a run reaches exactly the connection that
sent the request and carries that connection's user id, the run's id and the resolved thread.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from xtalk.backend import mechanisms as mech
from xtalk.backend.agent import SUPERVISOR, apply_plain_faults, echo_with, plan_steps, quoting
from xtalk.backend.config import BackendConfig
from xtalk.backend.directory import Directory
from xtalk.backend.envelopes import Stamp, Step, render
from xtalk.backend.faults import FaultPlan
from xtalk.backend.session import Connection, Registry

FAMILY = {"main": "emitter", "isolated": "bridge_data", "factory": "bridge_payload",
          "legacy": "emitter_nested"}
#: For mixed_emitters: the family a stray event of a run is sent through instead.
OTHER_FAMILY = {"emitter": "bridge_data", "emitter_nested": "bridge_payload",
                "bridge_data": "emitter", "bridge_payload": "emitter"}
REQUEST_TYPES = frozenset({"start_agent", "user_message", "chat", "chat_message", "agent_request",
                           "execute_agent"})
TEXT_KEYS = ("user_request", "content", "message", "text", "query", "prompt")

Binding = Callable[["Run", Step, int], mech.Target]


@dataclass(eq=False, slots=True)
class Run:
    run_id: str
    requester: Connection  # the connection that sent the request
    conn: Connection  # where the run delivers by default (global_router changes it)
    owner: str  # the server user id the run is stamped with by default
    owner_sub: str  # the account that asked (ground truth speaks of accounts)
    thread_id: str
    text: str
    engine: str
    family: str
    request_id: str
    engine_id: str
    steps: list[Step]
    binding: Binding | None = None
    reasoning_alias: bool = False
    bleed: bool = False
    quotes_pending: bool = False  # content_bleed_inflight: thinking and answer from the prompt buffer
    mixed: Step | None = None
    release: list[Callable[[], None]] = field(default_factory=list)

    def stamp(self) -> Stamp:
        return Stamp(self.run_id, self.owner, self.thread_id, self.request_id, self.engine_id)


def _own(run: Run, step: Step, index: int) -> mech.Target:
    return mech.own_target(run)


def request_fields(message: dict[str, Any]) -> tuple[str, str | None]:
    """The request text and the thread id asked for, from a payload or a flat message."""
    body: dict[str, Any] = message
    for nest in ("payload", "data"):
        inner = message.get(nest)
        if isinstance(inner, dict):
            body = inner
            break
    text = next((body[k] for k in TEXT_KEYS if isinstance(body.get(k), str) and body[k]), "")
    thread = body.get("thread_id") or message.get("thread_id")
    return text, thread if isinstance(thread, str) else None


def claimed_user(message: dict[str, Any]) -> str | None:
    """The ``user_id`` a client put in its request (payload, data or top level), if any."""
    for body in (message.get("payload"), message.get("data"), message):
        if isinstance(body, dict) and isinstance(body.get("user_id"), str) and body["user_id"]:
            return str(body["user_id"])
    return None


class AgentService:
    """Starts and executes runs; owns the process-wide state the mechanisms share."""

    def __init__(self, config: BackendConfig, plan: FaultPlan, directory: Directory,
                 registry: Registry) -> None:
        self.config = config
        self.plan = plan
        self.directory = directory
        self.registry = registry
        self._delays = random.Random(f"{config.seed}:delays")
        self._variants = random.Random(f"{config.seed}:variants")
        self._names = random.Random(f"{config.seed}:names")
        self.tasks: set[asyncio.Task[None]] = set()
        self.runs_started = 0
        self.events_sent = 0
        # Netra's shared objects; used only by the legacy path and the race faults.
        self.factory = mech.SharedFactory()
        self.router = mech.GlobalRouter()
        self.bridges = mech.BridgePool()
        self.emitters = mech.EmitterPool()
        self.run_threads = mech.RunThreadMap()
        self.prompts = mech.PromptCache()
        self.pending_prompts = mech.PromptBuffer()

    # connections

    def on_connect(self, conn: Connection) -> None:
        if self.plan.on("global_router"):
            self.router.register(conn)  # never unregistered: that is the bug
        conn.manager = mech.Manager(conn.user_id, conn)

    # runs

    async def start(self, conn: Connection, message: dict[str, Any]) -> Run | None:
        """Start a run for ``message``; None when it has no text.

        The run's first event is sent before this returns, in the same uninterrupted stretch as
        the run's setup (no await suspends in between), so whatever shared state the setup
        configured is still the caller's when ``agent_started`` goes out: the requester learns
        its run id first, as in Netra, and later events are the ones exposed to the races."""
        text, asked_thread = request_fields(message)
        if not text:
            return None
        run = self._new_run(conn, text, asked_thread, claimed_user(message))
        self.runs_started += 1
        retry_first = await self._emit_once(run, run.steps[0], 0)
        task = asyncio.get_running_loop().create_task(self._execute(run, retry_first))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return run

    def _new_run(self, conn: Connection, text: str, asked_thread: str | None,
                 claimed: str | None = None) -> Run:
        plan = self.plan
        engine = conn.mode
        deliver_to, owner = conn, conn.user_id
        handler = self.router.first() if plan.fires("global_router") else None
        if handler is not None and handler.conn is not conn:
            deliver_to, owner = handler.conn, handler.user_id  # served as the first user
        trusted = self._trusted_ids(conn, claimed, asked_thread)
        if trusted is not None:
            owner, thread_id = trusted
        else:
            thread_id = self.directory.resolve_thread(owner, asked_thread)
        run_id, engine_id = self._mint_ids(engine, owner, thread_id)
        steps, plain = apply_plain_faults(plan_steps(text, self._names), plan)
        run = Run(
            run_id=run_id, requester=conn, conn=deliver_to, owner=owner, owner_sub=conn.token_sub,
            thread_id=thread_id, text=text, engine=engine, family=FAMILY[engine],
            request_id=f"ws_req_{secrets.token_hex(6)}", engine_id=engine_id, steps=steps,
            reasoning_alias=engine == "main" and self._variants.random() < self.config.reasoning_alias,
            mixed=plain.mixed,
        )
        for fault, detail in plain.acts:
            plan.record(fault, run_id, run.owner_sub, run.owner_sub, **detail)
        if trusted is not None:
            run.binding = self._trusted_binding(run)
        elif deliver_to is not conn:
            run.binding = lambda r, s, i: mech.Target([r.conn], r.stamp(), "global_router")
        else:
            run.binding = self._choose_binding(run)
        if plan.on("content_bleed"):
            self.prompts.write(text, run.owner_sub)  # every request writes the shared cache
            run.bleed = plan.fires("content_bleed")
        if plan.on("content_bleed_inflight"):
            self.pending_prompts.add(run_id, text, run.owner_sub)  # every request is in the buffer
            run.release.append(lambda: self.pending_prompts.discard(run_id))
            run.quotes_pending = plan.fires("content_bleed_inflight")
        return run

    def _trusted_ids(self, conn: Connection, claimed: str | None, asked_thread: str | None
                     ) -> tuple[str, str] | None:
        """``trust_client_ids``: (user id, thread id) taken from the payload when it names another
        user or another user's thread and the fault fires; None otherwise (the correct path)."""
        if not self.plan.on("trust_client_ids"):
            return None
        foreign_user = claimed is not None and claimed != conn.user_id
        thread_owner = self.directory.owner_of(asked_thread) if asked_thread else None
        foreign_thread = thread_owner is not None and thread_owner != conn.user_id
        if not (foreign_user or foreign_thread) or not self.plan.fires("trust_client_ids"):
            return None
        user_id = claimed if foreign_user and claimed is not None else conn.user_id
        thread_id = asked_thread or self.directory.resolve_thread(user_id, None)
        return user_id, thread_id

    def _trusted_binding(self, run: Run) -> Binding:
        """Route a trusted run by its (client-given) user id; a run that keeps its caller's id
        but runs in another user's thread goes to the caller, stamped with that thread: then
        no delivery crosses users, so the act is recorded here, once."""
        if run.owner != run.requester.user_id:
            return lambda r, s, i: mech.Target([], r.stamp(), "trust_client_ids", route_user=r.owner)
        thread_owner = self.directory.owner_of(run.thread_id)
        self.plan.record("trust_client_ids", run.run_id, run.owner_sub, thread_owner,
                         thread_id=run.thread_id, foreign_thread=True)
        return _own

    def _mint_ids(self, engine: str, user_id: str, thread_id: str) -> tuple[str, str]:
        ms = int(time.time() * 1000)
        if engine == "isolated":
            run_id = f"run_ws_{secrets.token_hex(6)}"
            return run_id, f"user_engine_{user_id[:8]}_{run_id}_{ms}"
        if engine == "factory":
            run_id = f"{thread_id}_run_{ms}_{secrets.token_hex(4)}"
            return run_id, f"{user_id[:8]}_{run_id}_{ms}"
        return f"run_{secrets.token_hex(8)}", ""

    def _choose_binding(self, run: Run) -> Binding:
        """Which object decides where this run's frames go (first matching mechanism wins)."""
        plan, conn = self.plan, run.requester
        if conn.routed_by_user:
            # demo/relaxed identities: the manager routes by the (collapsed) server user id.
            fault = "demo_mode" if conn.user_id == "demo-user-001" else "relaxed_identity"
            return lambda r, s, i: mech.Target([], r.stamp(), fault, route_user=r.owner)
        if run.engine == "legacy" or plan.fires("shared_factory"):
            self.factory.configure(conn, run.owner, run.thread_id)
            return lambda r, s, i: self.factory.target(r)
        if plan.on("manager_push"):
            own = mech.Manager(conn.user_id, conn)
            conn.manager = own  # the request installs its caller's manager ...
            if plan.fires("manager_push"):
                mech.push_manager(list(self.registry.by_id.values()), own)  # ... everywhere
            return lambda r, s, i: mech.via_session_manager(r)
        if plan.fires("thread_as_user"):
            plan.record("thread_as_user", run.run_id, run.owner_sub, run.owner_sub,
                        thread_id=run.thread_id)
            return lambda r, s, i: mech.Target([], r.stamp(), "thread_as_user",
                                               route_user=r.thread_id)
        if plan.on("last_writer_map") and plan.fires("last_writer_map"):
            self.run_threads.write(run.thread_id)
            return self._via_run_thread_map
        if plan.on("stale_emitter"):
            return self._pooled_emitter(run)
        if plan.on("bridge_fallback"):
            bridge = self.bridges.acquire(run)
            run.release.append(lambda: self.bridges.release(bridge))

            def fallback(r: Run, s: Step, i: int) -> mech.Target:
                if i > 0 and self.plan.fires("bridge_fallback"):  # no context passed
                    return bridge.target_without_context(r)
                return mech.own_target(r)

            return fallback
        return _own

    def _pooled_emitter(self, run: Run) -> Binding:
        stale = self.emitters.take() if self.plan.fires("stale_emitter") else None
        if stale is None:
            fresh = mech.PooledEmitter(run.run_id, run.thread_id, run.owner_sub, run.request_id)
            run.release.append(lambda: self.emitters.release(fresh))
            return _own
        run.release.append(lambda: self.emitters.release(stale))
        return lambda r, s, i: stale.target(r)

    def _via_run_thread_map(self, run: Run, step: Step, index: int) -> mech.Target:
        thread = self.run_threads.read()
        if thread is None or thread == run.thread_id:
            return mech.own_target(run)
        owner = self.directory.owner_of(thread) or ""
        stamp = Stamp(run.run_id, run.owner, thread, run.request_id, run.engine_id)
        return mech.Target([], stamp, "last_writer_map", route_user=owner)

    # execution

    def _delay(self) -> float:
        low, high = self.config.delay_min, self.config.delay_max
        return low if high <= low else self._delays.uniform(low, high)

    async def _execute(self, run: Run, retry_first: tuple[mech.Target, str, Step] | None) -> None:
        try:
            if retry_first is not None:
                await self._retry(run, *retry_first)
            for index in range(1, len(run.steps)):
                step = run.steps[index]
                await asyncio.sleep(self._delay())
                if step.type == "_garbage":
                    await self._send_garbage(run, step.text)
                elif step.type == "_close":
                    self.plan.record("abrupt_close", run.run_id, run.owner_sub, run.owner_sub,
                                     closed=not run.requester.closed)
                    await run.requester.close(1011, "internal error")
                else:
                    retry = await self._emit_once(run, step, index)
                    if retry is not None:
                        await self._retry(run, *retry)
        finally:
            for release in run.release:
                release()

    async def _emit_once(self, run: Run, step: Step, index: int
                         ) -> tuple[mech.Target, str, Step] | None:
        """Send one step; return what a retry needs when retry_duplicates fires for it."""
        if step.type == "agent_completed" and step.agent == SUPERVISOR:
            self.pending_prompts.discard(run.run_id)  # answered: no longer a pending request
        if run.quotes_pending and step.agent == SUPERVISOR and step.type in ("agent_thinking", "agent_completed"):
            step = self._quote_pending(run, step)
        if run.bleed and step.type in ("tool_completed", "agent_completed"):
            cached, writer = self.prompts.text, self.prompts.owner
            if cached and cached != run.text:
                step = echo_with(step, cached)
                if step.type == "tool_completed" or step.agent == "supervisor":
                    self.plan.record("content_bleed", run.run_id, writer, run.owner_sub,
                                     type=step.type)
        assert run.binding is not None
        target = run.binding(run, step, index)
        family = OTHER_FAMILY[run.family] if step is run.mixed else run.family
        frame = render(family, step, target.stamp, reasoning_alias=run.reasoning_alias)
        await self._deliver(run, target, frame)
        return (target, family, step) if self.plan.fires("retry_duplicates") else None

    def _quote_pending(self, run: Run, step: Step) -> Step:
        """content_bleed_inflight: write the step from the shared buffer, which quotes another
        user's request that is still waiting for its answer (its text, and so its marker)."""
        found = self.pending_prompts.other_than(run.owner_sub)
        if found is None:
            return step
        quoted_run, text, writer = found
        self.plan.record("content_bleed_inflight", run.run_id, writer, run.owner_sub, type=step.type,
                         quoted_run_id=quoted_run)
        return quoting(step, run.text, text)

    async def _retry(self, run: Run, target: mech.Target, family: str, step: Step) -> None:
        """send() returned None, read as failure: send again after each retry delay."""
        for attempt, wait in enumerate(self.config.retry_delays, start=2):
            await asyncio.sleep(wait)
            frame = render(family, step, target.stamp, attempt=attempt,
                           reasoning_alias=run.reasoning_alias)
            sent = await self._deliver(run, target, frame)
            self.plan.record("retry_duplicates", run.run_id, run.owner_sub,
                             run.owner_sub if sent else None, type=step.type, attempt=attempt)

    async def _deliver(self, run: Run, target: mech.Target, frame: dict[str, Any]) -> int:
        if target.route_user is not None:
            conns = self.registry.connections_of(target.route_user)
        else:
            conns = target.conns
        text = orjson.dumps(frame).decode()
        sent = 0
        for conn in conns:
            if not await conn.send_text(text):
                continue
            sent += 1
            if target.fault is None:
                continue
            if target.ids_owner is not None:  # the ids are an earlier run's (stale_emitter)
                self.plan.record(target.fault, target.stamp.run_id, target.ids_owner,
                                 conn.token_sub, type=frame.get("type"), true_run_id=run.run_id,
                                 same_user=target.ids_owner == conn.token_sub)
            elif conn.token_sub != run.owner_sub:
                self.plan.record(target.fault, target.stamp.run_id, run.owner_sub, conn.token_sub,
                                 type=frame.get("type"), user_id=target.stamp.user_id)
        self.events_sent += sent
        if sent == 0 and target.fault is not None:
            self.plan.record(target.fault, target.stamp.run_id, run.owner_sub, None,
                             type=frame.get("type"), lost=True)
        return sent

    async def _send_garbage(self, run: Run, variant: str) -> None:
        conn = run.requester
        sample = orjson.dumps(render(run.family, run.steps[0], run.stamp())).decode()
        if variant == "non_json":
            ok = await conn.send_text("Internal Server Error: <html>agent crashed</html>")
        elif variant == "truncated_json":
            ok = await conn.send_text(sample[: len(sample) // 2])
        elif variant == "binary":
            ok = await conn.send_bytes(secrets.token_bytes(64))
        else:  # oversized: past the protocol's 8 KiB, and not JSON either
            ok = await conn.send_text("{" + "x" * 65536)
        self.plan.record("garbage_frames", run.run_id, run.owner_sub,
                         run.owner_sub if ok else None, variant=variant)
