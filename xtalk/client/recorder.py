"""The recorder: one process's history file, in the SPEC format ``xtalk.history/1``.

A ``Recorder`` turns what the session client saw into history records, one JSON object a line,
serialised with orjson and buffered in memory; the buffer goes to disk when it passes a size, at
``end``, at ``close``, and when the process dies (``atexit``, and SIGTERM/SIGHUP through a
chained handler; inside Locust its own SIGTERM handler runs ``quitting``, where the Locust user
closes the recorder too).

Invariants:

- Times are ``time.monotonic() - clock_zero``: one system-wide clock shared by every process of a
  run (``XTALK_CLOCK_ZERO``), so shards merge by time.
- ``end`` is the last record: once it is written, later records are dropped (a connection that
  closes while Locust tears users down is not part of the run).
- Nothing secret is ever written: the recorder has no field for a token or a password, URLs lose
  their query parameters named like secrets, and frames are what was sent on the WebSocket (the
  token travels in the handshake, never in a frame).
- Line numbers are 1-based and count every line of the file; ``on_record(record, line_no, text)``
  sees each record as written (live checking plugs in here) and must not raise: an exception
  from it is counted, never propagated into the client.
"""

from __future__ import annotations

import atexit
import base64
import datetime as _dt
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

SCHEMA = "xtalk.history/1"

OnRecord = Callable[[dict[str, Any], int, str], None]

#: Query parameters that may carry a credential (``?token=`` is a common fallback when a WebSocket has no headers).
_SECRET_PARAMS = frozenset({"token", "access_token", "jwt", "key", "api_key", "password", "secret"})


def clock_zero_from_env(environ: dict[str, str] | None = None) -> float:
    """The run's clock origin: ``XTALK_CLOCK_ZERO`` when set (by ``xtalk run``), else now."""
    env = os.environ if environ is None else environ
    value = env.get("XTALK_CLOCK_ZERO")
    if value:
        try:
            return float(value)
        except ValueError:
            pass
    return time.monotonic()


def redact_url(url: str) -> str:
    """The URL without any query parameter that could hold a secret."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _SECRET_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept)))


class Recorder:
    """Buffered writer of one history file. Not thread-safe; greenlets are fine (no I/O yields
    between building a line and appending it to the buffer)."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock_zero: float | None = None,
        on_record: OnRecord | None = None,
        buffer_bytes: int = 256 * 1024,
        install_handlers: bool = True,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock_zero = time.monotonic() if clock_zero is None else clock_zero
        self.on_record = on_record
        self.hook_errors = 0
        self.lines = 0
        self.ended = False
        self._buffer = bytearray()  # lines not yet written (appending to one buffer is C work)
        self._recv_tails: dict[tuple[str, str], bytes] = {}  # (user, conn) -> ',"user":..,"frame":'
        self._limit = buffer_bytes
        self._file = open(self.path, "ab")
        self._closed = False
        if install_handlers:
            atexit.register(self.close)
            _install_signal_flush(self)

    # ---- clock -------------------------------------------------------------------------------

    @property
    def buffered_bytes(self) -> int:
        """Bytes recorded but not yet written to the file."""
        return len(self._buffer)

    def now(self) -> float:
        return time.monotonic() - self.clock_zero

    # ---- record kinds (SPEC) -----------------------------------------------------------------

    def meta(self, *, profile: str, scenario: str, seed: int, worker: str | int | None, **extra: Any) -> int:
        started = _dt.datetime.now(_dt.timezone.utc).isoformat()
        return self.write(
            {"kind": "meta", "schema": SCHEMA, "profile": profile, "started_at": started,
             "scenario": scenario, "seed": seed, "worker": worker, **extra}
        )

    def login(self, user: str, identity: str | None, **extra: Any) -> int:
        return self.write({"kind": "login", "t": self.now(), "user": user, "identity": identity, **extra})

    def open(self, user: str, conn: str, engine: str | None, url: str, **extra: Any) -> int:
        return self.write(
            {"kind": "open", "t": self.now(), "user": user, "conn": conn, "engine": engine,
             "url": redact_url(url), **extra}
        )

    def send(
        self, user: str, conn: str, req: str | None, thread: str | None, marker: str | None,
        frame: Any, t: float | None = None, **extra: Any,
    ) -> int:
        return self.write(
            {"kind": "send", "t": self.now() if t is None else t, "user": user, "conn": conn,
             "req": req, "thread": thread, "marker": marker, "frame": frame, **extra}
        )

    def recv_text(self, user: str, conn: str, data: bytes, frame: Any, t: float | None = None) -> int:
        """A received text message. ``frame`` is its parsed JSON, or ``None`` when it was not JSON
        (then the text goes to ``raw``). The frame's own bytes are spliced into the line when they
        are one line already, which keeps the frame exactly as received and skips a re-encode."""
        t = self.now() if t is None else t
        if frame is None:
            return self.write({"kind": "recv", "t": t, "user": user, "conn": conn,
                               "raw": data.decode("utf-8", "replace")})
        if b"\n" in data or b"\r" in data:
            return self.write({"kind": "recv", "t": t, "user": user, "conn": conn, "frame": frame})
        # The hot path: one line per received event. What follows ``t`` is constant per
        # connection, so it is serialised once; the record dict is built only for a hook.
        key = (user, conn)
        tail = self._recv_tails.get(key)
        if tail is None:
            tail = orjson.dumps({"user": user, "conn": conn})[1:-1]
            tail = self._recv_tails[key] = b"," + tail + b',"frame":'
        if self.on_record is None:  # no line object either: straight into the buffer
            if self.ended or self._closed:
                return 0
            buffer = self._buffer
            buffer += b'{"kind":"recv","t":'
            buffer += orjson.dumps(t)
            buffer += tail
            buffer += data
            buffer += b"}\n"
            self.lines += 1
            if len(buffer) >= self._limit:
                self.flush()
            return self.lines
        line = b'{"kind":"recv","t":' + orjson.dumps(t) + tail + data + b"}"
        return self._append({"kind": "recv", "t": t, "user": user, "conn": conn, "frame": frame}, line)

    def recv_frame(self, user: str, conn: str, frame: Any, t: float | None = None) -> int:
        """A received message that a transport decoded (a Socket.IO packet): ``frame`` as decoded."""
        return self.write({"kind": "recv", "t": self.now() if t is None else t, "user": user, "conn": conn,
                           "frame": frame})

    def recv_binary(self, user: str, conn: str, data: bytes, t: float | None = None) -> int:
        return self.write(
            {"kind": "recv", "t": self.now() if t is None else t, "user": user, "conn": conn,
             "raw": base64.b64encode(data).decode("ascii"), "binary": True}
        )

    def close_conn(self, user: str, conn: str, code: int | None, reason: str, by: str, t: float | None = None) -> int:
        self._recv_tails.pop((user, conn), None)  # its cached line prefix: reconnects add up
        return self.write(
            {"kind": "close", "t": self.now() if t is None else t, "user": user, "conn": conn,
             "code": code, "reason": reason, "by": by}
        )

    def error(self, user: str | None, phase: str, detail: str, **extra: Any) -> int:
        """An extra record kind (SPEC allows them): something that went wrong outside a frame,
        e.g. a login answered 500 or a refused WebSocket handshake. ``detail`` must hold no secret."""
        return self.write({"kind": "error", "t": self.now(), "user": user, "phase": phase, "detail": detail, **extra})

    def end(self, drain: float, **extra: Any) -> int:
        line = self.write({"kind": "end", "t": self.now(), "drain": drain, **extra})
        self.ended = True
        self.flush()
        return line

    # ---- plumbing ----------------------------------------------------------------------------

    def write(self, record: dict[str, Any]) -> int:
        """Append one record; returns its line number, or 0 when it was dropped (after ``end``)."""
        return self._append(record, orjson.dumps(record))

    def _append(self, record: dict[str, Any], line: bytes) -> int:
        if self.ended or self._closed:
            return 0
        self.lines += 1
        self._buffer += line
        self._buffer += b"\n"
        if self.on_record is not None:
            try:
                self.on_record(record, self.lines, line.decode("utf-8"))
            except Exception:  # a live checker's bug must not break the load
                self.hook_errors += 1
        if len(self._buffer) >= self._limit:
            self.flush()
        return self.lines

    def flush(self) -> None:
        if not self._buffer or self._closed:
            return
        data, self._buffer = self._buffer, bytearray()
        self._file.write(data)
        self._file.flush()

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._file.close()
        try:
            atexit.unregister(self.close)
        except Exception:
            pass
        _RECORDERS.discard(self)


# ---- dying processes -------------------------------------------------------------------------

_RECORDERS: set[Recorder] = set()
_PREVIOUS: dict[int, Any] = {}


def _flush_all_and_chain(signum: int, frame: FrameType | None) -> None:
    for recorder in list(_RECORDERS):
        try:
            recorder.close()
        except Exception:
            pass
    previous = _PREVIOUS.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        # Default disposition: leave the way the signal would have, but through SystemExit so
        # other atexit work still runs.
        raise SystemExit(128 + signum)


def _install_signal_flush(recorder: Recorder) -> None:
    _RECORDERS.add(recorder)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signum in _PREVIOUS:
            continue
        try:
            _PREVIOUS[signum] = signal.getsignal(signum)
            signal.signal(signum, _flush_all_and_chain)
        except (ValueError, OSError):
            _PREVIOUS.pop(signum, None)
