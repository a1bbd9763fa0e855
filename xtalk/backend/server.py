"""Running the reference backend on uvicorn: in the foreground (``xtalk serve``) or in a thread.

Server stack, chosen by measurement (see ``benchmarks/bench_backend.py``): uvicorn with the
``websockets-sansio`` WebSocket protocol, ``h11`` (or ``httptools`` when installed) for HTTP,
per-message compression off, one port for HTTP and WebSocket.

``serve_forever`` binds the socket itself (so ``port=0`` picks a free port and the real port is
known before anything is announced), announces ``http://HOST:PORT`` once uvicorn accepts, writes
it atomically to the ready file, and returns when a signal, ``exit_after`` or ``stop()`` ends
it. SIGINT and SIGTERM both stop cleanly (uvicorn would re-raise them after shutdown; we don't).

``BackendThread`` runs the same server on its own event loop in a daemon thread, for tests and
benchmarks: ``with BackendThread(config) as backend: backend.url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType

import uvicorn

from xtalk.backend.app import Backend, build_app
from xtalk.backend.config import BackendConfig
from xtalk.errors import UsageError


def http_implementation() -> str:
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


class _Server(uvicorn.Server):
    """uvicorn's server, with signal handling that stops and does not re-raise."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            self.force_exit = True  # a second Ctrl-C: stop waiting for connections
        self.should_exit = True


def bind_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise UsageError(
            "a free port to listen on",
            f"bind={host}, port={port} ({error.strerror})",
            "pass --port 0 for any free port, or stop what is using that port",
        ) from None
    sock.set_inheritable(True)
    return sock


def write_ready_file(path: str, url: str) -> None:
    """Write ``url`` to ``path`` atomically: a reader sees nothing or the whole line."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ready-")
    with os.fdopen(fd, "w") as out:
        out.write(url + "\n")
    os.replace(tmp, path)


def uvicorn_config(app: Backend, log_level: str = "warning",
                   ws: str = "websockets-sansio") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        ws=ws,
        http=http_implementation(),
        ws_per_message_deflate=False,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=2,
        backlog=4096,
    )


class RunningServer:
    """One uvicorn server on one socket, driven by ``run`` on the current event loop."""

    def __init__(self, config: BackendConfig, host: str = "127.0.0.1", port: int = 0,
                 ws: str = "websockets-sansio") -> None:
        self.app = build_app(config)
        self.sock = bind_socket(host, port)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        self.server = _Server(uvicorn_config(self.app, ws=ws))

    async def run(self, on_ready: Callable[[str], None] | None = None,
                  exit_after: float | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started and not task.done():
            await asyncio.sleep(0.01)
        if self.server.started:
            if on_ready is not None:
                on_ready(self.url)
            if exit_after is not None:
                asyncio.get_running_loop().call_later(exit_after, self.stop)
        try:
            await task
        finally:
            self.app.stop()
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True


def serve_forever(config: BackendConfig, host: str, port: int, ready_file: str | None = None,
                  exit_after: float | None = None,
                  announce: Callable[[str], None] = print) -> None:
    running = RunningServer(config, host, port)

    def ready(url: str) -> None:
        if ready_file:  # first the file, then the line: whoever reads the line may read the file
            write_ready_file(ready_file, url)
        announce(url)

    asyncio.run(running.run(ready, exit_after))


class BackendThread:
    """The backend on loopback in a daemon thread; a context manager that stops it on exit."""

    def __init__(self, config: BackendConfig | None = None, host: str = "127.0.0.1") -> None:
        self.config = config or BackendConfig()
        self.host = host
        self._ready = threading.Event()
        self._running: RunningServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="xtalk-backend", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        assert self._running is not None
        return self._running.url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http"):]

    @property
    def app(self) -> Backend:
        assert self._running is not None
        return self._running.app

    def _main(self) -> None:
        try:
            self._running = RunningServer(self.config, self.host, 0)
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._running.run(lambda url: self._ready.set()))
        except BaseException as error:  # surfaced to the starting thread by start()
            self._error = error
            self._ready.set()
        finally:
            if self._loop is not None:
                self._loop.close()

    def start(self, timeout: float = 10.0) -> BackendThread:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"reference backend did not start: {self._error!r}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._running is not None and self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._running.stop)
        self._thread.join(timeout)

    def __enter__(self) -> BackendThread:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
