"""The embedded reference backend, as a child process of ``xtalk run``.

``python -m xtalk serve --port 0 --ready-file F ...`` binds a free loopback port and writes F
when it accepts connections; we read the URL (or port) from F. The process is ours: it is
stopped by its pid (SIGTERM, then SIGKILL after a grace period) whatever happens to the run.
A backend that dies before it is ready is a harness error with its last output in the message.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import orjson

from xtalk.errors import UsageError
from xtalk.runner.processes import start_child, stop_process
from xtalk.scenario.model import Scenario

READY_TIMEOUT = 30.0


def parse_ready(text: str) -> str:
    """The base URL announced in a ready file: JSON with ``url`` or ``port``, a URL, or a port."""
    text = text.strip()
    if not text:
        raise ValueError("empty ready file")
    if text.startswith("{"):
        data = orjson.loads(text)
        if isinstance(data.get("url"), str):
            return str(data["url"]).rstrip("/")
        host = data.get("host", "127.0.0.1")
        return f"http://{host}:{int(data['port'])}"
    if text.isdigit():
        return f"http://127.0.0.1:{int(text)}"
    if text.startswith(("http://", "https://")):
        return text.rstrip("/")
    if text.startswith(("ws://", "wss://")):
        return "http" + text[2:].rstrip("/")
    raise ValueError(f"unreadable ready file: {text[:80]!r}")


def serve_command(scenario: Scenario, *, seed: int, ready_file: Path, ground_truth: Path | None,
                  exit_after: float) -> list[str]:
    """``exit_after`` bounds the backend's life even if we die without stopping it."""
    cmd = [sys.executable, "-m", "xtalk", "serve", "--port", "0", "--ready-file", str(ready_file),
           "--exit-after", f"{int(exit_after)}s",
           "--engine", scenario.backend.engine,
           "--seed", str(scenario.backend.seed if scenario.backend.seed is not None else seed)]
    for name, rate in scenario.backend.faults:
        cmd += ["--fault", f"{name}={rate}"]
    if scenario.backend.token_lifetime is not None:
        cmd += ["--token-lifetime", f"{scenario.backend.token_lifetime:g}"]
    if scenario.backend.max_connections_per_user:
        cmd += ["--max-connections-per-user", str(scenario.backend.max_connections_per_user)]
    if ground_truth is not None:
        cmd += ["--ground-truth", str(ground_truth)]
    return cmd


class EmbeddedBackend:
    """``with EmbeddedBackend(...) as backend: backend.url``"""

    def __init__(self, scenario: Scenario, *, seed: int, run_dir: Path, env: dict[str, str],
                 exit_after: float) -> None:
        self.scenario = scenario
        self.seed = seed
        self.run_dir = run_dir
        self.env = env
        self.exit_after = exit_after
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="xtalk-serve-")
        self.log_path = run_dir / "backend.log"

    def __enter__(self) -> EmbeddedBackend:
        ready = Path(self._tmp.name) / "ready"
        cmd = serve_command(self.scenario, seed=self.seed, ready_file=ready,
                            ground_truth=self.run_dir / "ground_truth.jsonl", exit_after=self.exit_after)
        log = open(self.log_path, "wb")
        try:
            self.proc = start_child(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        finally:
            log.close()
        try:
            return self._wait_ready(ready, cmd)
        except BaseException:  # a signal or an error while waiting: the child goes too
            self.stop()
            raise

    def _wait_ready(self, ready: Path, cmd: list[str]) -> EmbeddedBackend:
        assert self.proc is not None
        started = time.monotonic()
        while True:
            if ready.exists():
                text = ready.read_text(encoding="utf-8", errors="replace")
                try:
                    self.url = parse_ready(text)
                    return self
                except (ValueError, KeyError, orjson.JSONDecodeError):
                    pass  # partly written: read again
            code = self.proc.poll()
            if code is not None:
                self.stop()
                raise UsageError("the embedded reference backend to start",
                                 f"it exited with status {code}: {self._tail()}",
                                 f"run `{' '.join(cmd[1:4])} --port 8000` alone to see why, or pass --host URL")
            if time.monotonic() - started > READY_TIMEOUT:
                self.stop()
                raise UsageError("the embedded reference backend to be ready within "
                                 f"{READY_TIMEOUT:.0f} s", f"no ready file: {self._tail()}",
                                 "see backend.log in the run folder, or pass --host URL")
            time.sleep(0.05)

    def _tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "(no output)"
        return " | ".join(lines[-3:]) or "(no output)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc, grace=5.0)
        self._tmp.cleanup()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
