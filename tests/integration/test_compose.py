"""docker-compose.yml: it parses, names the backend / master / worker commands, and those very
commands, run as plain processes on 127.0.0.1 (no Docker engine here), make a distributed run
whose verdict is the check of all shards.

The only changes from what the containers run: the service host names (``backend``, ``master``)
become 127.0.0.1, the volume ``/runs`` and the image's ``/app`` become folders of this checkout
and of the test, and the port / bind variables the file declares for this purpose get free
loopback values. Compose's own ``${VAR:-default}`` interpolation is applied as Compose does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"

SCENARIO = """
[run]
name = "it_compose"
users = 4
spawn_rate = 4
run_time = "3s"
seed = 2
[check]
deadline = "10s"
[[journey]]
name = "ask"
think_time = ["0s", "0.1s"]
  [[journey.step]]
  kind = "start_agent"
  prompt = "Hello from {user}, request {n}"
"""

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``${VAR}``, ``${VAR:-default}`` (defaults may nest), ``$$``."""
    def one(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op == ":-" and not value or op == "-" and value is None:
            return interpolate(default or "", env)
        return value or ""

    previous = None
    while previous != text:
        previous, text = text, _VAR.sub(one, text)
    return text.replace("$$", "$")


def load_compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def command_of(service: dict[str, Any], env: dict[str, str]) -> list[str]:
    command = service["command"]
    assert isinstance(command, list), "commands are lists: no shell word-splitting surprises"
    return [interpolate(str(part), env) for part in command]


def test_interpolation_follows_compose_rules() -> None:
    assert interpolate("${A:-x}/${B}", {"B": "b"}) == "x/b"
    assert interpolate("${A:-http://h:${P:-80}}", {}) == "http://h:80"
    assert interpolate("${A:-http://h:${P:-80}}", {"P": "9"}) == "http://h:9"
    assert interpolate("${A:-d}", {"A": "set"}) == "set" and interpolate("$$HOME", {}) == "$HOME"


def test_compose_file_names_the_backend_master_and_scalable_worker_commands() -> None:
    compose = load_compose()
    services = compose["services"]
    assert set(services) == {"backend", "master", "worker"}
    env: dict[str, str] = {}
    backend = command_of(services["backend"], env)
    assert backend[:2] == ["xtalk", "serve"] and "--port" in backend and backend[backend.index("--bind") + 1] == "0.0.0.0"
    master = " ".join(command_of(services["master"], env))
    assert "locust -f /app/loadtests/locustfile.py --master" in master
    assert "-H http://backend:8000" in master and "xtalk check /runs/compose/history-*.jsonl" in master
    worker = command_of(services["worker"], env)
    assert worker[:4] == ["locust", "-f", "/app/loadtests/locustfile.py", "--worker"]
    assert worker[worker.index("--master-host") + 1] == "master"
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]  # --scale worker=N
    assert "8089" in services["master"]["ports"][0]
    assert all("runs:/runs" in services[s]["volumes"] for s in services) and "runs" in compose["volumes"]
    assert "http://staging.example" in command_of(services["worker"], {"XTALK_HOST": "http://staging.example"})[-1]
    assert services["master"]["environment"]["XTALK_OUT"] == "/runs/${XTALK_RUN_ID:-compose}"
    dockerfile = DOCKERFILE.read_text()
    assert "pip install ." in dockerfile and "COPY loadtests" in dockerfile
    assert services["master"]["build"]["dockerfile"] == "docker/Dockerfile"


# ---- the same topology as plain processes --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def localise(parts: list[str], runs: Path) -> list[str]:
    out = []
    for part in parts:
        part = part.replace("http://backend:", "http://127.0.0.1:").replace("/runs/", f"{runs}/")
        part = part.replace("/app/", f"{ROOT}/")
        out.append("127.0.0.1" if part == "master" else part)
    return out


def wait_for_port(port: int, proc: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the backend exited early"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.mark.integration
@pytest.mark.skipif(importlib.util.find_spec("xtalk.backend.app") is None, reason="no reference backend")
def test_compose_commands_run_as_processes_make_a_checked_distributed_run(tmp_path: Path) -> None:
    services = load_compose()["services"]
    runs = tmp_path / "runs"
    runs.mkdir()
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO)
    compose_env = {"XTALK_BIND": "127.0.0.1", "XTALK_BACKEND_PORT": str(free_port()),
                   "XTALK_MASTER_PORT": str(free_port()), "XTALK_WEB_UI_PORT": str(free_port()),
                   "XTALK_EXPECT_WORKERS": "2", "XTALK_USERS": "4", "XTALK_SPAWN_RATE": "4",
                   "XTALK_SAFETY_TIME": "90s", "XTALK_SCENARIO": str(scenario), "XTALK_RUN_ID": "it"}
    container_env = {k: interpolate(str(v), compose_env) for k, v in services["master"]["environment"].items()}
    for key in ("XTALK_OUT", "XTALK_TREND_DB"):  # the volume's paths, on this machine
        container_env[key] = container_env[key].replace("/runs/", f"{runs}/")
    base = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONWARNINGS": "ignore"}
    env = {**base, **{k: v for k, v in container_env.items() if v}}
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, parts: list[str], environ: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(logs / f"{name}.log", "wb") as log:
            return subprocess.Popen(localise(parts, runs), env=environ, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)

    procs: list[subprocess.Popen[bytes]] = []
    try:
        backend = start("backend", command_of(services["backend"], compose_env), base)
        procs.append(backend)
        wait_for_port(int(compose_env["XTALK_BACKEND_PORT"]), backend)
        master = start("master", command_of(services["master"], compose_env), env)
        procs.append(master)
        for n in range(2):  # docker compose up --scale worker=2
            procs.append(start(f"worker{n}", command_of(services["worker"], compose_env), env))
        live, stats, index = watch_web_ui(master, int(compose_env["XTALK_WEB_UI_PORT"]), limit=150)
        status = master.wait(timeout=10)
    finally:
        for proc in procs:
            stop(proc)
    output = "\n".join(p.read_text(errors="replace")[-2500:] for p in sorted(logs.glob("*.log")))
    run = runs / "it"
    assert status == 0, output
    assert sorted(p.name for p in run.glob("history-*.jsonl")) == ["history-0.jsonl", "history-1.jsonl"]
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["verdict"] == "pass" and verdict["requests"]["completed"] > 0
    assert (run / "locust_stats.csv").is_file() and (run / "live.json").is_file()
    assert (runs / "history.sqlite").is_file()  # the trend store on the shared volume
    # While it ran, the master's web UI served the live view: both workers, and the isolation
    # tabs' rows inside Locust's own stats poll.
    assert live is not None and {w["worker"] for w in live["workers"]} == {"0", "1"}, output
    assert stats is not None and {t["key"] for t in stats["extended_stats"]} >= {"xtalk-isolation", "xtalk-findings"}
    assert index is not None and "extended_tabs" in index and "Isolation (live)" in index


def watch_web_ui(master: subprocess.Popen[bytes], port: int, limit: float) -> tuple[Any, Any, str | None]:
    """Poll the master's live endpoints until it exits; the last answers that name workers,
    and Locust's index page (whose template arguments announce the isolation tabs)."""
    live = stats = index = None
    deadline = time.monotonic() + limit
    base = f"http://127.0.0.1:{port}"
    while master.poll() is None and time.monotonic() < deadline:
        try:
            data = json.loads(urllib.request.urlopen(f"{base}/xtalk/live.json", timeout=2).read())
            if data["workers"]:
                live = data
                stats = json.loads(urllib.request.urlopen(f"{base}/stats/requests", timeout=2).read())
                if index is None:
                    index = urllib.request.urlopen(f"{base}/", timeout=2).read().decode()
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    return live, stats, index
