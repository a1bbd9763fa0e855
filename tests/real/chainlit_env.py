"""Real Chainlit for the ``real`` test tier: virtual environments in a cache, the example app.

``chainlit_venv(version)`` builds (once) a virtual environment with ``chainlit==<version>`` and
``examples/chainlit/requirements.txt`` under the cache folder (``$XTALK_CACHE_DIR``, default
``~/.cache/xtalk``), in ``venvs/chainlit-<version>-<hash>``: the hash covers the version, the
requirements and the Python version, so a change of any of them builds a new one and an
unchanged one is reused. A folder is used only once its build completed (``.complete``); a lock
keeps two test processes from building the same one. Never xtalk's own environment.

``ChainlitApp`` runs the example app from a scratch copy (Chainlit writes ``.chainlit/`` and
``chainlit.md`` beside the app) on a free loopback port, waits until it answers, and stops it by
its pid.

``python -m tests.real.chainlit_env`` builds the environments ahead of the tests (CI runs it in
the background while the rest of the suite runs).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from xtalk.runner.locust_proc import free_port
from xtalk.runner.processes import stop_process

VERSIONS = ("2.10.0", "2.10.1")  # 2.10.0 rebinds a live session to any socket naming it; 2.10.1 refuses
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "chainlit"
READY_BUDGET = 180.0  # seconds a cold start of the app may take on a loaded machine


def cache_dir() -> Path:
    return Path(os.environ.get("XTALK_CACHE_DIR") or Path.home() / ".cache" / "xtalk")


def venv_key(version: str) -> str:
    requirements = (EXAMPLE / "requirements.txt").read_bytes()
    text = f"chainlit=={version}\n{sys.version_info.major}.{sys.version_info.minor}\n".encode() + requirements
    return hashlib.sha256(text).hexdigest()[:12]


def chainlit_venv(version: str, log: list[str] | None = None) -> Path:
    """The cached virtual environment for ``version``, built if missing; returns its folder."""
    root = cache_dir() / "venvs"
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"chainlit-{version}-{venv_key(version)}"
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".complete").exists():
            if log is not None:
                log.append(f"chainlit {version}: reused {target}")
            return target
        started = time.monotonic()
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        # --no-compile: byte-compiling every installed module cost about a quarter of the build here
        # (115 s against 87 s); the app compiles what it imports, once.
        pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
               "--no-compile"]
        result = subprocess.run(pip + [f"chainlit=={version}", "-r", str(EXAMPLE / "requirements.txt")],
                                capture_output=True, text=True)
        if result.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            tail = "\n".join(line for line in result.stderr.splitlines() if "is ignored" not in line)[-2000:]
            raise RuntimeError(f"installing chainlit=={version} failed:\n{tail}")
        (target / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        if log is not None:
            log.append(f"chainlit {version}: built {target} in {time.monotonic() - started:.0f} s")
        return target


def build_all() -> list[Path]:
    """Every version's environment, built in parallel where missing (CI starts this early)."""
    from concurrent.futures import ThreadPoolExecutor

    log: list[str] = []
    with ThreadPoolExecutor(max_workers=len(VERSIONS)) as pool:
        venvs = list(pool.map(lambda version: chainlit_venv(version, log), VERSIONS))
    for line in log:
        print(f"real tier: {line}", file=sys.stderr)
    return venvs


class ChainlitApp:
    """The example app under one Chainlit version, on 127.0.0.1:<free port>."""

    def __init__(self, venv: Path, workdir: Path, *, tool_seconds: float = 0.3) -> None:
        self.venv = venv
        self.workdir = workdir
        self.password = "xt-" + secrets.token_urlsafe(12)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tool_seconds = tool_seconds
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "chainlit.log"

    def __enter__(self) -> ChainlitApp:
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / "app.py", self.workdir / "app.py")
        env = {**os.environ, "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48),
               "XTALK_CHAINLIT_PASSWORD": self.password, "XTALK_CHAINLIT_TOOL_SECONDS": str(self.tool_seconds),
               "PYTHONUNBUFFERED": "1"}
        env.pop("CHAINLIT_APP_ROOT", None)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(self.venv / "bin" / "chainlit"), "run", "app.py", "--host", "127.0.0.1", "--port",
                 str(self.port), "--headless"], cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + READY_BUDGET
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chainlit exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/", timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"chainlit did not answer on {self.url} within {READY_BUDGET:.0f} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.proc is not None:
            stop_process(self.proc)


if __name__ == "__main__":  # python -m tests.real.chainlit_env: build (or find) the environments
    build_all()
