"""Preflight: before any load, one user logs in and opens its WebSocket.

A run whose credentials the backend refuses concludes nothing about isolation, and without a
preflight it looks like one that failed: every user's connection refused, error frames and closes
everywhere. So ``xtalk run`` first does what one user would do, with the same client code
(``Session.login`` then ``Session.open_tab``, on plain threads instead of gevent), and waits for
the backend's first answer on the socket:

- a refusal (an error frame matching the profile's ``refusal`` conditions, a close 1008, or 401 /
  403 on the upgrade) on every attempt is a harness error: ``preflight`` raises ``UsageError``
  (exit 3) with one paragraph naming the auth strategy, the refusal the server gave and how to
  fix it;
- anything else (a welcome, another frame, silence) lets the run start.

Servers that refuse only some connections (a flaky gateway, the reference backend's
``refuse_1008`` fault) must not stop a run: the socket is opened up to ``OPEN_ATTEMPTS`` times and
one acceptance is enough. A login that fails is not judged here (retrying logins can lock real
accounts): the run goes on and, if no user at all gets in, ends with its own exit 3.

The preflight user (``preflight``) writes its records to a temporary file, not to the run's
history: it is not part of the load. Refusals later in a run stay where they belong: the session
records an ``error`` record of phase ``auth`` for each (``xtalk.client.refusal``).
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from xtalk.client.recorder import Recorder
from xtalk.client.refusal import REFUSAL_CLOSES, REFUSAL_STATUSES, profile_named, refusal_detail
from xtalk.errors import UsageError
from xtalk.report.text import plain
from xtalk.scenario.model import Auth, Scenario

USER = "preflight"
OPEN_ATTEMPTS = 10
ANSWER_WAIT = 3.0  # seconds to wait for the server's first word on the socket
CLOSE_WAIT = 0.5  # seconds to wait, after a refusal frame, for the close that follows it


@dataclass(frozen=True, slots=True)
class PreflightResult:
    ok: bool
    summary: str  # one line for the terminal


@dataclass(frozen=True, slots=True)
class Answer:
    refused: bool
    what: str  # the server's answer, in words


class _Waiter:
    """The ``AsyncResult``-like object a session waits on (no request is sent here)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._value: Any = None

    def set(self, value: Any) -> None:
        self._value = value
        self._event.set()

    def wait(self, timeout: float | None = None) -> Any:
        return self._value if self._event.wait(timeout) else None


def _spawn(fn: Callable[..., Any], *args: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def _answer(records: list[dict[str, Any]], conn: str, profile_name: str, final: bool) -> Answer | None:
    """The server's first answer on ``conn`` among ``records``, or None while it said nothing (or,
    unless ``final``, while a refusal frame still waits for the close that usually follows it)."""
    profile = profile_named(profile_name)
    refusal: str | None = None
    for record in list(records):
        if record.get("conn") != conn:
            continue
        kind = record.get("kind")
        if kind == "recv":
            detail = refusal_detail(profile, record.get("frame"))
            if detail is None:
                return Answer(False, "accepted")
            refusal = f"error frame {detail}"
        elif kind == "close":
            code, reason = record.get("code"), plain(record.get("reason") or "", 120)
            closed = f"close {code}" + (f" \"{reason}\"" if reason else "")
            if refusal is not None or code in REFUSAL_CLOSES:
                return Answer(True, f"{refusal} and {closed}" if refusal else closed)
            return Answer(False, f"closed at once ({closed})")
    if refusal is not None and final:
        return Answer(True, refusal)
    return None


def _open_once(session: Any, engine: str | None, records: list[dict[str, Any]], profile: str) -> Answer:
    tab = session.open_tab(engine)
    if tab is None:
        errors = [r for r in records if r.get("kind") == "error" and r.get("phase") == "open"]
        last = errors[-1] if errors else {}
        status = last.get("status")
        detail = plain(last.get("detail") or "the handshake failed", 200)
        return Answer(status in REFUSAL_STATUSES, detail)
    deadline = time.monotonic() + ANSWER_WAIT
    answer = None
    while answer is None:
        final = time.monotonic() >= deadline
        answer = _answer(records, tab.conn, profile, final)
        if answer is None and final:
            break
        if answer is None:
            if any(r.get("kind") == "error" and r.get("phase") == "auth" and r.get("conn") == tab.conn
                   for r in list(records)):  # refused: the close that follows comes within moments
                deadline = min(deadline, time.monotonic() + CLOSE_WAIT)
            time.sleep(0.02)
    if tab.alive:
        tab.ws.close(1000, "xtalk: preflight done")
        end = time.monotonic() + 1.0
        while tab.alive and time.monotonic() < end:
            time.sleep(0.02)
        if tab.alive:
            tab.ws.abort("preflight done")
    return answer or Answer(False, f"no frame within {ANSWER_WAIT:g} s (the connection stayed open)")


def _fix(auth: Auth, host: str) -> str:
    service = auth.auth_host or host
    if auth.strategy == "mint_jwt":
        where = f"${auth.jwt_secret_env}" if auth.jwt_secret_env else (auth.jwt_secret_file or "its secret file")
        return (f"the token is signed here with the secret in {where}: it must be the backend's current HS256 JWT "
                f"signing secret (rotated?), and [auth] jwt_issuer ({auth.jwt_issuer}) and jwt_audience "
                f"({auth.jwt_audience}) must be what the backend checks")
    if auth.strategy == "e2e_bypass":
        where = f"${auth.bypass_key_env}" if auth.bypass_key_env else (auth.bypass_key_file or "its key file")
        return (f"the token came from {service}/auth/e2e/test-auth with the key in {where}: check that the backend's "
                "WebSocket trusts tokens of that auth service ([auth] auth_host) and that the key is current")
    return (f"the token came from the auth service at {service} ({auth.strategy} strategy): check that the "
            "backend's WebSocket trusts that service's tokens (the same signing secret and issuer) and that "
            "[auth] auth_host names the right service")


def preflight(scenario: Scenario, host: str, environ: Mapping[str, str],
              http: httpx.Client | None = None) -> PreflightResult:
    """Log one user in and open its WebSocket; raise ``UsageError`` if the backend refuses it.
    ``http`` replaces the HTTP client (tests)."""
    from xtalk.client.session import Harness, Session  # not at import: keep `xtalk --help` light

    records: list[dict[str, Any]] = []
    lock = threading.Lock()

    def keep(record: dict[str, Any], line: int, text: str) -> None:
        with lock:
            records.append(record)

    folder = tempfile.TemporaryDirectory(prefix="xtalk-preflight-")
    recorder = Recorder(Path(folder.name) / "preflight.jsonl", on_record=keep, install_handlers=False)
    own_http = http is None
    if http is None:
        http = httpx.Client(timeout=httpx.Timeout(max(30.0, scenario.connect_timeout)))
    try:
        harness = Harness(scenario=scenario, recorder=recorder, http=http, base_url=host.rstrip("/"),
                          run_id=f"preflight-{secrets.token_hex(3)}", report=lambda *_: None, spawn=_spawn,
                          make_waiter=_Waiter, environ=dict(environ), pause=None)
        journey = scenario.journeys[0]
        session = Session(harness, USER, 0, journey)
        if not session.login():
            errors = [r for r in records if r.get("kind") == "error"]
            detail = plain(errors[-1].get("detail"), 160) if errors else "no token"
            return PreflightResult(False, f"the preflight user could not log in ({detail}); the run goes on "
                                          "and reports what its users meet")
        engines = session.engines() or [None]
        refusals: list[str] = []
        for _attempt in range(OPEN_ATTEMPTS):
            answer = _open_once(session, engines[0], records, scenario.profile)
            if not answer.refused:
                note = f" after {len(refusals)} refusal(s)" if refusals else ""
                return PreflightResult(True, f"{USER} logged in ({scenario.auth.strategy}) and opened its WebSocket "
                                             f"on {engines[0] or 'the default path'}: {answer.what}{note}")
            refusals.append(answer.what)
        raise UsageError(
            f"the backend at {host} to accept on its WebSocket the token of the \"{scenario.auth.strategy}\" auth "
            "strategy (a preflight user logs in and connects before any load)",
            f"a refusal on each of {OPEN_ATTEMPTS} attempts: {refusals[-1]}",
            f"{_fix(scenario.auth, host)}; nothing was loaded, and no verdict was written",
        )
    finally:
        if own_http:
            http.close()
        recorder.close()
        folder.cleanup()
