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

What goes on the wire comes from the profile (``Harness.profile``): the URL, the handshake, the
transport codec (``xtalk.transport``), the opening sequence (a Socket.IO connect and its answer,
a first-message auth and its answer, the profile's ``after_connect`` frames), the request frames
(templates filled with the text, the marker, the thread, a fresh client message id) and the
frames sent before the client closes. A connection that the server refuses while it opens is
recorded (its answer as a ``recv``, then the client's close) and comes back dead.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from websockets.exceptions import InvalidState

from xtalk.client import auth as auth_mod
from xtalk.client.channel import ConnectionPlan, new_session_id, now_iso, ws_url
from xtalk.client.recorder import Recorder
from xtalk.client.refusal import refusal_detail, refusal_needle
from xtalk.client.tracker import ConnTracker, Finished, Notice, Outcome, PhaseReached
from xtalk.client.wsconn import HandshakeError, WsConnection
from xtalk.core.profile import first_value
from xtalk.profiles import load_profile
from xtalk.profiles.model import REDACTED, WireProfile
from xtalk.profiles.template import compiled, render, set_path
from xtalk.scenario.model import Journey, Scenario, Step
from xtalk.transport import Codec, Control, codec_for

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


class _Template(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_prompt(template: str, *, user: str, n: int, journey: str) -> str:
    return template.format_map(_Template(user=user, n=n, journey=journey))


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
    profile: WireProfile = None  # type: ignore[assignment]  # None: the scenario's profile
    refusal_needle: bytes | None = field(default=None, init=False)  # see xtalk.client.refusal
    pump: Any = None  # a ReadPump reads the plain connections; None: one reader greenlet each

    def __post_init__(self) -> None:
        if self.profile is None:
            self.profile = load_profile(self.scenario.profile)
        self.refusal_needle = refusal_needle(self.profile.core)


@dataclass(slots=True)
class Tab:
    """One WebSocket connection of a user."""

    conn: str
    engine: str | None
    ws: WsConnection
    tracker: ConnTracker
    codec: Codec
    plan: ConnectionPlan | None = None  # how it was opened (the opening sequence renders from it)
    session: str | None = None  # the session id it named (the takeover probe reuses it)
    waiters: dict[str, Any] = field(default_factory=dict)
    alive: bool = True
    retiring: bool = False  # replaced after a token refresh: no new request; closes when idle
    close_code: int | None = None  # the close code once it is closed
    opening: Any = None  # set to "ready" / "refused" / "closed" when the opening sequence ends
    ready: bool = False  # the opening sequence ended and the connection may carry requests
    awaiting_auth: bool = False  # a first-message auth was sent and its answer not yet seen
    probe: str | None = None  # an active probe opened it: a refusal there is the answer it hopes for


class Session:
    __slots__ = ("h", "user", "index", "journey", "creds", "thread", "tabs", "n_requests", "n_steps", "token_at",
                 "n_conns", "_rotation", "retired", "reconnect_failures", "reconnects", "_retry_at", "_reconnecting",
                 "_want", "_random", "__weakref__")

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
        self._want: int | None = None  # tabs the journey keeps open (``missing_tabs``)
        self._random: random.Random | None = None  # made on first use: 2.5 KB a session otherwise

    def _rng(self) -> random.Random:
        """This user's jitter, seeded by the run's seed and its name (the same draws every run)."""
        if self._random is None:
            self._random = random.Random(f"{self.h.scenario.seed}:{self.user}")
        return self._random

    # ---- setting up --------------------------------------------------------------------------

    def login(self) -> bool:
        h = self.h
        try:
            self.creds = auth_mod.obtain(h.http, h.base_url, h.scenario.auth, h.profile.auth, user=self.user,
                                         index=self.index, run_id=h.run_id, environ=h.environ)
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
            self.close_tab(tab, 1000, "xtalk: token refresh")
        else:
            self.retired.append(tab)

    def renew_token(self) -> bool:
        """A fresh token (``/auth/refresh``, or the strategy again); recorded as a ``login`` with
        ``refresh: true``. A failure is recorded and the old token kept."""
        h = self.h
        if self.creds is None:
            return False
        try:
            creds = auth_mod.refresh(h.http, h.base_url, h.scenario.auth, h.profile.auth, self.creds,
                                     user=self.user, index=self.index, run_id=h.run_id, environ=h.environ)
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
        """The conversation the profile creates over HTTP before the first request (``[thread]``);
        nothing when the profile has none (the server names threads itself)."""
        h = self.h
        spec = h.profile.thread
        if self.creds is None or spec is None:
            return
        body = render(spec.body, self._http_values()) if spec.body is not None else {}
        try:
            response = h.http.post(h.base_url.rstrip("/") + spec.path, json=body, headers=self._http_headers())
        except httpx.HTTPError as error:
            h.recorder.error(self.user, "thread", f"POST {spec.path} failed: {type(error).__name__}")
            return
        if response.status_code >= 300:
            h.recorder.error(self.user, "thread", f"POST {spec.path} answered {response.status_code}",
                             status=response.status_code)
            return
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            value = first_value(data, spec.id)
            self.thread = str(value) if value is not None and not isinstance(value, (dict, list)) else None
        h.recorder.write({"kind": "thread", "t": h.recorder.now(), "user": self.user, "thread": self.thread})

    def _http_values(self) -> dict[str, Any]:
        account = self.creds.email if self.creds is not None else self.user
        return {"user": self.user, "account": account, "now": now_iso()}

    def _http_headers(self) -> dict[str, str]:
        """The credential on an HTTP call, as the socket carries it (headers and cookies)."""
        assert self.creds is not None
        plan = ConnectionPlan(self.h.profile, {**self._http_values(), "token": self.creds.token},
                              dict(self.creds.cookies))
        return plan.headers()

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
        if self._want is None:  # the journey's engines and tabs are fixed: counted once
            self._want = len(self.engines()) * max(1, self.journey.tabs)
        return max(0, self._want - sum(1 for tab in self.tabs if tab.alive and not tab.retiring))

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
            delay = max(delay, backoff_delay(self.reconnect_failures, self._rng().random()))
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
            self._retry_at = h.recorder.now() + backoff_delay(self.reconnect_failures, self._rng().random())
        return opened

    def open_tab(self, engine: str | None, *, token: str | None = None, session: str | None = None,
                 **extra: Any) -> Tab | None:
        """Open one connection and run the profile's opening sequence. ``token`` overrides the
        session's credential and ``session`` the fresh session id (probes); ``extra`` fields go
        on its ``open`` (or ``error``) record. ``None`` when the WebSocket handshake failed; a
        connection the server refused while it opened comes back dead."""
        h = self.h
        if self.creds is None:
            return None
        profile = h.profile
        self.n_conns += 1
        conn = f"{self.user}-c{self.n_conns}"
        token = token if token is not None else self.creds.token
        session = session or new_session_id()
        cookies = dict(self.creds.cookies)
        if profile.auth.token_from == "cookie":
            cookies[profile.auth.token_field] = token
        values = {"user": self.user, "account": self.creds.email, "session": session, "token": token,
                  "thread": self.thread, "now": now_iso()}
        plan = ConnectionPlan(profile, values, cookies)
        url = ws_url(h.base_url, profile, engine, {**values, "token": REDACTED})  # what the history keeps
        real_url = ws_url(h.base_url, profile, engine, values)
        tab_box: list[Tab] = []
        ws = WsConnection(
            real_url,
            subprotocols=plan.subprotocols(),
            headers=plan.headers(),
            on_message=lambda data, binary: self._on_message(tab_box[0], data, binary),
            on_closed=lambda code, reason, by: self._on_closed(tab_box[0], code, reason, by),
        )
        tab = Tab(conn, engine, ws, ConnTracker(profile.core), codec_for(profile.transport), plan, session)
        tab.probe = extra.get("probe")
        tab.opening = h.make_waiter()
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
        h.recorder.open(self.user, conn, engine, url, subprotocol=plan.recorded_subprotocol(ws.subprotocol),
                        **extra)
        # A refusal that came with the handshake response is handled here, before anyone can
        # send on the tab: the tab comes back dead, with its close recorded.
        ws.settle_early()
        if h.pump is not None and h.pump.accepts(ws):
            h.pump.add(ws)  # one greenlet reads every plain connection (xtalk.client.pump)
        else:
            ws.start_reader(h.spawn, h.pause)
        if tab.alive and not tab.codec.needs_connect:
            self._authenticate(tab)
        if tab.alive and not tab.ready:
            self._await_opening(tab)
        return tab

    def _await_opening(self, tab: Tab) -> None:
        """Wait (bounded by the connect timeout) until the opening sequence ends; a connection
        that never finishes opening is closed by the client and recorded as an ``error``."""
        outcome = tab.opening.wait(max(30.0, self.h.scenario.connect_timeout)) if not tab.ready else "ready"
        if outcome == "ready" or not tab.alive:
            return
        if outcome is None:
            self.h.recorder.error(self.user, "open", "the connection did not finish opening in time", conn=tab.conn)
        self.close_tab(tab, 1000, "xtalk: connection not accepted")

    def _authenticate(self, tab: Tab) -> None:
        """After the transport is connected: the first-message auth, if the profile has one,
        else straight to the ``after_connect`` frames."""
        first = self.h.profile.auth.first_message
        if first is None:
            self._hello(tab)
            return
        tab.awaiting_auth = True
        self._send_control(tab, first.frame)

    def _hello(self, tab: Tab) -> None:
        """The connection is accepted: send the profile's ``after_connect`` frames; ready."""
        for frame in self.h.profile.transport.after_connect:
            self._send_control(tab, frame)
        tab.ready = True
        tab.opening.set("ready")

    def _send_control(self, tab: Tab, template: Any) -> None:
        """Send a frame of the opening or closing sequence (recorded as a ``send`` with no request)."""
        assert tab.plan is not None
        frame = tab.plan.render(template)
        self._send_raw(tab, tab.codec.encode(frame), tab.plan.recorded(template))

    def _send_raw(self, tab: Tab, data: bytes, recorded: Any) -> None:
        self.h.recorder.send(self.user, tab.conn, None, None, None, recorded)
        try:
            tab.ws.send_text(data)
        except (OSError, InvalidState) as error:
            tab.ws.abort(f"send failed: {type(error).__name__}")

    def close_tab(self, tab: Tab, code: int = 1000, reason: str = "") -> None:
        """Close one connection politely: the profile's ``before_close`` frames and the
        transport's goodbye, then the closing handshake (the reader records the close)."""
        if not tab.alive or not tab.ws.is_open:
            return
        if tab.ready:
            for frame in self.h.profile.transport.before_close:
                self._send_control(tab, frame)
        goodbye = tab.codec.goodbye() if tab.codec.needs_connect else None
        if goodbye is not None and tab.ws.is_open:
            self._send_raw(tab, *goodbye)
        tab.ws.close(code, reason)

    # ---- receiving (reader greenlet) ---------------------------------------------------------

    def _on_message(self, tab: Tab, data: bytes, binary: bool) -> None:
        rec = self.h.recorder
        t = rec.now()
        if binary:
            rec.recv_binary(self.user, tab.conn, data, t)
            return
        if tab.codec.plain_json:  # the common case, short: no codec items per message
            try:
                frame = orjson.loads(data)
            except orjson.JSONDecodeError:
                rec.recv_text(self.user, tab.conn, data, None, t)
                return
            rec.recv_text(self.user, tab.conn, data, frame, t)
            if frame.__class__ is dict:
                needle = self.h.refusal_needle  # ``may_refuse`` inline: once per event
                if needle is None or needle in data or b"\\" in data:
                    self._note_refusal(tab, frame)
                if tab.awaiting_auth:
                    self._on_auth_answer(tab, frame)
                if tab.tracker.in_flight_now:  # ``_on_frame`` inline: requests in flight here
                    notices = tab.tracker.frame(frame, t)
                    if notices:
                        self._notify(tab, notices)
            elif isinstance(frame, dict):
                self._note_refusal(tab, frame)
                self._on_frame(tab, frame, t)
            return
        for item in tab.codec.decode(data):
            if item.reply is not None:
                try:
                    tab.ws.send_text(item.reply)  # a pong: never recorded
                except (OSError, InvalidState):
                    pass
            frame = item.frame
            if frame is None:
                if item.raw is not None:
                    rec.recv_text(self.user, tab.conn, item.raw, None, t)
                continue
            if item.verbatim and item.raw is not None:
                rec.recv_text(self.user, tab.conn, item.raw, frame, t)
            else:
                rec.recv_frame(self.user, tab.conn, frame, t)
            self._note_refusal(tab, frame)
            if item.control is not None:
                self._on_control(tab, item.control)
            elif isinstance(frame, dict):
                self._on_frame(tab, frame, t)

    def _note_refusal(self, tab: Tab, frame: Any) -> None:
        """A frame the profile calls a refusal of the credentials is recorded as a client error
        of phase ``auth`` too (beside its ``recv``); on a probe's connection it is the answer."""
        refused = refusal_detail(self.h.profile.core, frame) if tab.probe is None else None
        if refused is not None:
            self.h.recorder.error(self.user, "auth", f"the server refused the token: {refused}", conn=tab.conn)

    def _on_frame(self, tab: Tab, frame: dict[str, Any], t: float) -> None:
        if tab.awaiting_auth:
            self._on_auth_answer(tab, frame)
        if tab.tracker.in_flight:
            self._notify(tab, tab.tracker.frame(frame, t))

    def _on_control(self, tab: Tab, control: Control) -> None:
        """The transport's opening sequence, driven by what the server sends."""
        if control is Control.OPEN and tab.plan is not None:
            connect = tab.plan.profile.transport.connect
            data, _ = tab.codec.connect(tab.plan.render(connect))
            _, recorded = tab.codec.connect(tab.plan.recorded(connect))
            self._send_raw(tab, data, recorded)
        elif control is Control.CONNECTED and not tab.ready and not tab.awaiting_auth:
            self._authenticate(tab)
        elif control is Control.REFUSED:
            tab.opening.set("refused")
        elif control is Control.DISCONNECTED:
            tab.opening.set("closed")
            self.close_tab(tab, 1000, "xtalk: the server disconnected")

    def _on_auth_answer(self, tab: Tab, frame: dict[str, Any]) -> None:
        first = self.h.profile.auth.first_message
        assert first is not None
        if all(condition.holds(frame) for condition in first.accepted):
            tab.awaiting_auth = False
            self._hello(tab)
        elif first.refused and all(condition.holds(frame) for condition in first.refused):
            tab.awaiting_auth = False
            tab.opening.set("refused")

    def _on_closed(self, tab: Tab, code: int | None, reason: str, by: str) -> None:
        tab.alive = False
        tab.close_code = code
        if tab.opening is not None and not tab.ready:
            tab.opening.set("closed")
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
                    self.close_tab(tab, 1000, "xtalk: token refresh")

    # ---- asking ------------------------------------------------------------------------------

    def next_tabs_alive(self) -> bool:
        return any(self._usable(tab) for tab in self.tabs)

    @staticmethod
    def _usable(tab: Tab) -> bool:
        return tab.alive and tab.ready and not tab.retiring and tab.ws.is_open

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
              *, thread: str | None = None, payload: dict[tuple[str, ...], Any] | None = None,
              **extra: Any) -> Any:
        """Record and send one request; returns the waiter its final notice will be set on.
        ``thread`` overrides the request's thread and ``payload`` writes fields at paths of the
        frame (probes); ``extra`` fields go on the ``send`` record."""
        h = self.h
        marker = new_marker()
        if thread is None:
            thread = self.thread if self.journey.follow_thread else None
        kind = h.profile.request(step.kind)
        echo = str(uuid.uuid4()) if kind.echo is not None else None
        fill, names = compiled(kind.frame)  # = render(kind.frame, values), compiled once
        frame = fill({"text": f"{text} {marker}", "marker": marker, "thread": thread, "message_id": echo,
                      "user": self.user, "session": tab.session,
                      "account": self.creds.email if self.creds is not None else self.user,
                      **({"now": now_iso()} if "now" in names else {})})
        for path, value in (payload or {}).items():
            set_path(frame, path, value)
        data = tab.codec.encode(frame)
        t = h.recorder.now()
        waiter = h.make_waiter()
        tab.waiters[req] = waiter
        tab.tracker.sent(req, t, echo)
        h.recorder.send(self.user, tab.conn, req, thread, marker, frame, t,
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
                      payload: dict[tuple[str, ...], Any] | None = None, **extra: Any) -> Outcome:
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
                self.close_tab(tab, 1000, "xtalk: user stopped")
