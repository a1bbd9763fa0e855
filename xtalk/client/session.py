"""A simulated user's session: log in, create a thread, open WebSocket tabs, ask agents.

``Harness`` is what every session of one process shares (the scenario, the recorder, one
``httpx.Client`` — each client costs ~15 ms of CPU and ~844 KB — and the Locust adapter that
turns phase latencies into request events). ``Session`` is one user; ``Tab`` is one of its
connections, with the ``ConnTracker`` that paces its requests.

Adapter rules (STYLE.md): this module records what happened and reports latencies; it decides
no anomaly. Nothing here raises into Locust for a server's fault: a failed login, a refused
handshake or a broken socket becomes an ``error`` or ``close`` record and the run goes on.
Requests are closed-loop: each waits for its final event, an error, a lost connection or its
deadline, whichever comes first.

Connections end in many ways (a 1008 refusal after accept, a 1011, a TCP reset, end of stream, a
send that fails); each is recorded as one ``close`` the moment it is seen and fails the requests
in flight on it at once. A dead tab is never used again: the session opens a replacement after a
bounded, jittered exponential backoff (``reconnect``), logging in again first when the server
refused the token (1008). Tokens are refreshed before they expire (the shorter of the token's own
lifetime and the scenario's ``token_lifetime``); the old tabs retire: no new request goes to them,
and each closes (by the client) once its last request ended, so a refresh never cuts a request.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import orjson
from websockets.exceptions import InvalidState

from xtalk.client import auth as auth_mod
from xtalk.client.recorder import Recorder
from xtalk.client.refusal import profile_named, refusal_detail
from xtalk.client.tracker import ConnTracker, Finished, Notice, Outcome, PhaseReached
from xtalk.client.wsconn import HandshakeError, WsConnection
from xtalk.scenario.model import Journey, Scenario, Step

#: report(name, response_time_ms, failure_or_None): the Locust ``events.request`` adapter.
Report = Callable[[str, float, Exception | None], None]


#: Reconnect backoff: the first retry after ~``RECONNECT_BASE`` seconds, doubling per failed
#: attempt up to ``RECONNECT_CAP`` (jittered to 50-100 %, so refused users do not retry in step).
RECONNECT_BASE = 0.5
RECONNECT_CAP = 8.0
#: Refresh once a token reaches this share of its lifetime.
REFRESH_AT = 0.8


def backoff_delay(failures: int, draw: float) -> float:
    """Seconds to wait before reconnect attempt ``failures + 1``; ``draw`` in [0, 1) jitters."""
    return min(RECONNECT_CAP, RECONNECT_BASE * 2.0 ** min(failures, 16)) * (0.5 + 0.5 * draw)


class RequestFailed(Exception):
    """What Locust shows for a failed agent request (never raised, only reported)."""


def new_marker() -> str:
    return "xtm-" + secrets.token_hex(8)


def ws_url(base_url: str, engine: str | None) -> str:
    parts = urlsplit(base_url)
    scheme = {"https": "wss", "wss": "wss"}.get(parts.scheme, "ws")
    path = parts.path.rstrip("/") + "/ws"
    query = urlencode({"mode": engine}) if engine else ""
    return urlunsplit((scheme, parts.netloc, path, query, ""))


class _Template(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_prompt(template: str, *, user: str, n: int, journey: str) -> str:
    return template.format_map(_Template(user=user, n=n, journey=journey))


def request_frame(kind: str, text: str, thread: str | None) -> dict[str, Any]:
    """The JSON the web front end sends (NETRA_PROTOCOL.md §3)."""
    if kind == "user_message":
        return {"type": "user_message", "payload": {"content": text, "references": [], "thread_id": thread}}
    return {"type": "start_agent",
            "payload": {"user_request": text, "thread_id": thread, "context": {"source": "message_input"},
                        "settings": {}}}


@dataclass
class Harness:
    """Everything the sessions of one process share."""

    scenario: Scenario
    recorder: Recorder
    http: httpx.Client
    base_url: str
    run_id: str
    report: Report
    spawn: Callable[..., Any]
    make_waiter: Callable[[], Any]  # an AsyncResult-like object: set(value), wait(timeout) -> value | None
    environ: Mapping[str, str]
    pause: Callable[[], Any] | None = None  # called by readers after each read (gevent.sleep)
    in_flight: int = 0
    requests_sent: int = 0
    requests_done: int = 0
    connected: int = 0
    stopping: bool = False  # the load is over: no new request


@dataclass
class Tab:
    """One WebSocket connection of a user."""

    conn: str
    engine: str | None
    ws: WsConnection
    tracker: ConnTracker = field(default_factory=ConnTracker)
    waiters: dict[str, Any] = field(default_factory=dict)
    alive: bool = True
    retiring: bool = False  # replaced after a token refresh: no new request; closes when idle
    close_code: int | None = None  # the close code once it is closed


class Session:
    def __init__(self, harness: Harness, user: str, index: int, journey: Journey) -> None:
        self.h = harness
        self.user = user
        self.index = index
        self.journey = journey
        self.creds: auth_mod.Credentials | None = None
        self.thread: str | None = None
        self.tabs: list[Tab] = []
        self.n_requests = 0
        self.n_steps = 0
        self.token_at = 0.0
        self.n_conns = 0
        self._rotation = 0
        self.retired: list[Tab] = []  # old tabs after a refresh, closing once idle
        self.reconnect_failures = 0
        self.reconnects = 0
        self._retry_at = 0.0
        self._reconnecting = False  # open pacing runs steps in parallel greenlets: one at a time
        self._rng = random.Random(f"{harness.scenario.seed}:{user}")

    # ---- setting up --------------------------------------------------------------------------

    def login(self) -> bool:
        h = self.h
        try:
            self.creds = auth_mod.obtain(h.http, h.base_url, h.scenario.auth, user=self.user, index=self.index,
                                         run_id=h.run_id, environ=h.environ)
        except auth_mod.AuthError as error:
            h.recorder.error(self.user, error.phase, error.detail, status=error.status)
            h.report("login", 0.0, RequestFailed(error.detail))
            return False
        h.recorder.login(self.user, self.creds.identity, email=self.creds.email)
        self.token_at = h.recorder.now()
        return True

    def token_lifetime(self) -> float:
        """The shorter of the scenario's ``token_lifetime`` and the token's own."""
        lifetime = self.h.scenario.auth.token_lifetime
        if self.creds is not None and self.creds.lifetime is not None:
            lifetime = min(lifetime, self.creds.lifetime)
        return lifetime

    def token_due(self) -> bool:
        """Refresh once the token reaches 80 % of its lifetime (unless the scenario keeps the
        first token on purpose, to see expiry)."""
        auth = self.h.scenario.auth
        return (auth.refresh and self.creds is not None
                and self.h.recorder.now() - self.token_at > REFRESH_AT * self.token_lifetime())

    def refresh(self) -> bool:
        """New token, then new tabs (the server checked the old token at the handshake). The old
        tabs retire: no new request goes to them, and each closes (by the client) once its
        requests in flight ended. A failure is recorded and the old tabs are kept."""
        if not self.renew_token():
            return False
        old = [tab for tab in self.tabs if tab.alive]
        fresh = [tab for tab in (self.open_tab(t.engine) for t in old) if tab is not None]
        for tab in old:
            self.retire(tab)
        self.tabs = [tab for tab in self.tabs if tab.alive and tab not in old] + fresh
        return True

    def retire(self, tab: Tab) -> None:
        tab.retiring = True
        if tab.tracker.in_flight == 0:
            tab.ws.close(1000, "xtalk: token refresh")
        else:
            self.retired.append(tab)

    def renew_token(self) -> bool:
        """A fresh token (``/auth/refresh``, or the strategy again); recorded as a ``login`` with
        ``refresh: true``. A failure is recorded and the old token kept."""
        h = self.h
        if self.creds is None:
            return False
        try:
            creds = auth_mod.refresh(h.http, h.base_url, h.scenario.auth, self.creds, user=self.user,
                                     index=self.index, run_id=h.run_id, environ=h.environ)
        except auth_mod.AuthError as error:
            h.recorder.error(self.user, "refresh", error.detail, status=error.status)
            h.report("token_refresh", 0.0, RequestFailed(error.detail))
            self.token_at = h.recorder.now()  # retry after another 80 % of the lifetime, not at once
            return False
        self.creds = creds
        self.token_at = h.recorder.now()
        h.recorder.login(self.user, creds.identity, email=creds.email, refresh=True)
        return True

    def create_thread(self) -> None:
        h = self.h
        if self.creds is None:
            return
        try:
            response = h.http.post(h.base_url.rstrip("/") + "/api/threads", json={"title": f"xtalk {self.user}"},
                                   headers={"Authorization": f"Bearer {self.creds.token}"})
        except httpx.HTTPError as error:
            h.recorder.error(self.user, "thread", f"POST /api/threads failed: {type(error).__name__}")
            return
        if response.status_code >= 300:
            h.recorder.error(self.user, "thread", f"POST /api/threads answered {response.status_code}",
                             status=response.status_code)
            return
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            value = data.get("id", data.get("thread_id"))
            self.thread = str(value) if value is not None else None
        h.recorder.write({"kind": "thread", "t": h.recorder.now(), "user": self.user, "thread": self.thread})

    def engines(self) -> list[str | None]:
        """Engine paths this user's tabs ask for: ``matrix`` opens one set per path,
        ``per_user`` gives user i the path ``engines[i % len(engines)]``."""
        engines = list(self.h.scenario.engines)
        if self.journey.engine == "matrix":
            return list(engines)
        if self.journey.engine == "per_user":
            return [engines[self.index % len(engines)]] if engines else [None]
        return [self.journey.engine]

    def open_tabs(self) -> int:
        """Open ``tabs`` connections per engine path of the journey (those missing: dead tabs
        are replaced); returns how many are open afterwards."""
        for engine in self.engines():
            have = sum(1 for tab in self.tabs if tab.alive and not tab.retiring and tab.engine == engine)
            for _ in range(max(1, self.journey.tabs) - have):
                tab = self.open_tab(engine)
                if tab is not None:
                    self.tabs.append(tab)
        self.tabs = [tab for tab in self.tabs if tab.alive]
        return len(self.tabs)

    def missing_tabs(self) -> int:
        want = len(self.engines()) * max(1, self.journey.tabs)
        return max(0, want - sum(1 for tab in self.tabs if tab.alive and not tab.retiring))

    def reconnect(self, sleep: Callable[[float], Any], stopping: Callable[[], bool] | None = None) -> int:
        """Replace dead tabs after the backoff; returns how many tabs are open afterwards.

        Waits until the backoff of the last failed attempt has passed (``sleep``: gevent's in
        Locust). When the server refused the token (close 1008), logs in again first: a token
        that expired or was revoked would be refused again. An attempt that leaves a tab short
        doubles the next wait, up to ``RECONNECT_CAP``; a completed request resets it."""
        if self._reconnecting:  # another greenlet of this user is at it: wait a little, not spin
            sleep(RECONNECT_BASE / 2)
            return sum(1 for tab in self.tabs if tab.alive)
        self._reconnecting = True
        try:
            return self._reconnect(sleep, stopping)
        finally:
            self._reconnecting = False

    def _reconnect(self, sleep: Callable[[float], Any], stopping: Callable[[], bool] | None) -> int:
        h = self.h
        delay = self._retry_at - h.recorder.now()
        if not self.next_tabs_alive():  # never straight back: the server may be refusing everyone
            delay = max(delay, backoff_delay(self.reconnect_failures, self._rng.random()))
        if delay > 0:
            sleep(delay)
        if (stopping is not None and stopping()) or h.stopping or self.creds is None:
            return sum(1 for tab in self.tabs if tab.alive)
        if self.token_due() or (self.h.scenario.auth.refresh
                                and any(tab.close_code == 1008 for tab in self.tabs if not tab.alive)):
            self.renew_token()
        self.reconnects += 1
        opened = self.open_tabs()
        if self.missing_tabs() > 0:
            self.reconnect_failures += 1
            self._retry_at = h.recorder.now() + backoff_delay(self.reconnect_failures, self._rng.random())
        return opened

    def open_tab(self, engine: str | None, *, token: str | None = None, **extra: Any) -> Tab | None:
        """Open one connection (``token`` overrides the session's: probes); ``extra`` fields go
        on its ``open`` (or ``error``) record."""
        h = self.h
        if self.creds is None:
            return None
        self.n_conns += 1
        conn = f"{self.user}-c{self.n_conns}"
        url = ws_url(h.base_url, engine)
        token = token if token is not None else self.creds.token
        tab_box: list[Tab] = []
        ws = WsConnection(
            url,
            subprotocols=["jwt-auth", f"jwt.{token}"],
            headers={"Authorization": f"Bearer {token}"},
            on_message=lambda data, binary: self._on_message(tab_box[0], data, binary),
            on_closed=lambda code, reason, by: self._on_closed(tab_box[0], code, reason, by),
        )
        tab = Tab(conn, engine, ws)
        tab_box.append(tab)
        try:
            ws.open(timeout=max(30.0, h.scenario.connect_timeout))
        except HandshakeError as error:
            h.recorder.error(self.user, "open", f"handshake refused: {error}", conn=conn, engine=engine,
                             url=url, status=error.status, **extra)
            h.report("ws_connect", 0.0, RequestFailed(str(error)))
            return None
        except OSError as error:
            h.recorder.error(self.user, "open", f"connect failed: {type(error).__name__}: {error}", conn=conn,
                             engine=engine, url=url, **extra)
            h.report("ws_connect", 0.0, RequestFailed(f"{type(error).__name__}: {error}"))
            return None
        # Recorded before the reader runs, so ``open`` precedes the welcome in the history.
        h.recorder.open(self.user, conn, engine, url, subprotocol=_safe_subprotocol(ws.subprotocol), **extra)
        # A refusal that came with the handshake response is handled here, before anyone can
        # send on the tab: the tab comes back dead, with its close recorded.
        ws.settle_early()
        ws.start_reader(h.spawn, h.pause)
        return tab

    # ---- receiving (reader greenlet) ---------------------------------------------------------

    def _on_message(self, tab: Tab, data: bytes, binary: bool) -> None:
        rec = self.h.recorder
        t = rec.now()
        if binary:
            rec.recv_binary(self.user, tab.conn, data, t)
            return
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            rec.recv_text(self.user, tab.conn, data, None, t)
            return
        rec.recv_text(self.user, tab.conn, data, frame, t)
        refused = refusal_detail(profile_named(self.h.scenario.profile), frame)
        if refused is not None:  # the server refused the token: a client error, recorded as one
            rec.error(self.user, "auth", f"the server refused the token: {refused}", conn=tab.conn)
        if isinstance(frame, dict) and tab.tracker.in_flight:
            self._notify(tab, tab.tracker.frame(frame, t))

    def _on_closed(self, tab: Tab, code: int | None, reason: str, by: str) -> None:
        tab.alive = False
        tab.close_code = code
        if tab in self.retired:
            self.retired.remove(tab)
        rec = self.h.recorder
        t = rec.now()
        rec.close_conn(self.user, tab.conn, code, reason, by, t)
        # Requests cut by our own close (Locust stopping its users, the end of a run) are unknown,
        # not failed: they are not reported to Locust at all, as the checker counts them unknown.
        self._notify(tab, tab.tracker.connection_closed(t, f"connection closed by {by} ({code})"),
                     report=by != "client")

    def _notify(self, tab: Tab, notices: list[Notice], *, report: bool = True) -> None:
        for notice in notices:
            if isinstance(notice, PhaseReached):
                self.h.report(notice.phase.value, notice.latency * 1000.0, None)
            elif isinstance(notice, Finished):
                if not report:
                    pass
                elif notice.outcome is Outcome.OK:
                    self.h.report("agent_completed", notice.latency * 1000.0, None)
                else:
                    self.h.report("agent_completed", notice.latency * 1000.0,
                                  RequestFailed(f"{notice.outcome.value}: {notice.detail}"))
                if notice.outcome is Outcome.OK:
                    self.reconnect_failures = 0
                waiter = tab.waiters.pop(notice.req, None)
                if waiter is not None:
                    waiter.set(notice)
                if tab.retiring and tab.alive and tab.tracker.in_flight == 0:
                    tab.ws.close(1000, "xtalk: token refresh")

    # ---- asking ------------------------------------------------------------------------------

    def next_tabs_alive(self) -> bool:
        return any(self._usable(tab) for tab in self.tabs)

    @staticmethod
    def _usable(tab: Tab) -> bool:
        return tab.alive and not tab.retiring and tab.ws.is_open

    def next_tabs(self) -> list[Tab]:
        """Where the next step goes: every engine's tab for a matrix journey, else the next tab
        in rotation. Dead and retiring tabs are skipped."""
        alive = [tab for tab in self.tabs if self._usable(tab)]
        if not alive:
            return []
        if self.journey.engine == "matrix":
            by_engine: dict[str | None, Tab] = {}
            for tab in alive:
                by_engine.setdefault(tab.engine, tab)
            return list(by_engine.values())
        self._rotation += 1
        return [alive[self._rotation % len(alive)]]

    def run_step(self, step: Step, step_index: int) -> list[Outcome]:
        """Send one step (on one tab, or on each engine's tab) and wait for every answer."""
        h = self.h
        if (self.missing_tabs() and self.next_tabs_alive() and not h.stopping
                and h.recorder.now() >= self._retry_at):
            self.reconnect(lambda _seconds: None)  # some tabs died: replace them, no wait
        tabs = self.next_tabs()
        if not tabs:
            return []
        self.n_steps += 1
        # A matrix step goes to every engine path: its requests share a ``group`` so the checker
        # can compare the same scripted request across engines.
        group = f"{self.user}-g{self.n_steps}" if len(tabs) > 1 else None
        # One text for the whole step: the requests of a matrix step differ only in their marker.
        text = render_prompt(step.prompt, user=self.user, n=self.n_requests + 1, journey=self.journey.name)
        sent: list[tuple[Tab, str, Any, float]] = []
        for tab in tabs:
            self.n_requests += 1
            req = f"{self.user}-r{self.n_requests}"
            waiter = self._send(tab, req, step, step_index, text, group)
            sent.append((tab, req, waiter, self.h.recorder.now()))
        return [self._wait(tab, req, waiter, sent_at) for tab, req, waiter, sent_at in sent]

    def _send(self, tab: Tab, req: str, step: Step, step_index: int | None, text: str, group: str | None,
              *, thread: str | None = None, payload: dict[str, Any] | None = None, **extra: Any) -> Any:
        """Record and send one request; returns the waiter its final notice will be set on.
        ``thread``/``payload`` override the request's thread and add payload fields (probes);
        ``extra`` fields go on the ``send`` record."""
        h = self.h
        marker = new_marker()
        if thread is None:
            thread = self.thread if self.journey.follow_thread else None
        frame = request_frame(step.kind, f"{text} {marker}", thread)
        if payload:
            frame["payload"].update(payload)
        data = orjson.dumps(frame)
        t = h.recorder.now()
        waiter = h.make_waiter()
        tab.waiters[req] = waiter
        tab.tracker.sent(req, t)
        h.recorder.send(self.user, tab.conn, req, frame["payload"]["thread_id"], marker, frame, t,
                        engine=tab.engine, journey=self.journey.name, step=step_index,
                        **({"group": group} if group else {}), **extra)
        h.in_flight += 1
        h.requests_sent += 1
        try:
            tab.ws.send_text(data)
        except (OSError, InvalidState) as error:
            # A reset or broken pipe, or a protocol already closing: the connection is over.
            # ``abort`` records its close (the server's, unless we started closing) and fails
            # every request in flight on it, this one included.
            h.recorder.error(self.user, "send", f"send failed: {type(error).__name__}", conn=tab.conn, req=req)
            tab.ws.abort(f"send failed: {type(error).__name__}")
            if req in tab.waiters:  # the close was reported earlier: end this request now
                self._notify(tab, tab.tracker.connection_closed(h.recorder.now(), "send failed"))
        return waiter

    def _wait(self, tab: Tab, req: str, waiter: Any, sent_at: float) -> Outcome:
        h = self.h
        remaining = max(0.0, sent_at + h.scenario.deadline - h.recorder.now())
        notice = waiter.wait(remaining)  # the notice, or None when the deadline passed
        if notice is None:
            late = tab.tracker.expire(req, h.recorder.now())
            if late is not None:
                self._notify(tab, [late])
            tab.waiters.pop(req, None)
            outcome = Outcome.DEADLINE
        else:
            outcome = notice.outcome
        h.in_flight -= 1
        h.requests_done += 1
        return outcome

    def probe_request(self, tab: Tab, probe: str, text: str, *, thread: str | None = None,
                      payload: dict[str, Any] | None = None, **extra: Any) -> Outcome:
        """One request sent as a probe (``probe`` names it on the ``send`` record); waits for
        its answer like any request."""
        self.n_requests += 1
        req = f"{self.user}-r{self.n_requests}"
        waiter = self._send(tab, req, Step(), None, text, None, thread=thread, payload=payload, probe=probe,
                            **extra)
        return self._wait(tab, req, waiter, self.h.recorder.now())

    def close(self) -> None:
        for tab in self.tabs + self.retired:
            if tab.alive:
                tab.ws.close(1000, "xtalk: user stopped")


def _safe_subprotocol(value: str | None) -> str | None:
    """The subprotocol the server picked, unless it echoed the token-bearing one."""
    if value is None or value.startswith("jwt."):
        return None if value is None else "jwt.<redacted>"
    return value
