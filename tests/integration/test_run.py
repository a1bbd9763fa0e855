"""``xtalk run`` end to end: the embedded reference backend, a short headless Locust run, the
checker, the run folder. Short runs (5 users, a few seconds of load): figures go to benchmarks/."""

from __future__ import annotations

import csv
import http.server
import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

if importlib.util.find_spec("xtalk.backend.app") is None or importlib.util.find_spec("xtalk.commands.serve") is None:
    pytest.skip("the reference backend (xtalk.backend, xtalk serve) is not in this tree yet", allow_module_level=True)

SCENARIO = """
[run]
name = "it_short"
users = 5
spawn_rate = 5
run_time = "{run_time}"
seed = 3
[check]
deadline = "10s"
[backend]
engine = "{engine}"
[[journey]]
name = "ask"
think_time = ["0.05s", "0.2s"]
  [[journey.step]]
  kind = "start_agent"
  prompt = "Hello from {{user}}, request {{n}}"
  [[journey.step]]
  kind = "user_message"
  prompt = "And a follow-up, {{user}}"
"""


def xtalk_run(tmp_path: Path, *args: str, engine: str = "main", run_time: str = "4s",
              timeout: float = 150) -> tuple[subprocess.CompletedProcess[str], Path]:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO.format(run_time=run_time, engine=engine))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "xtalk", "run", str(scenario), "--out", str(out), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return proc, out


def test_short_run_on_the_embedded_backend_passes_and_writes_the_run_folder(tmp_path: Path) -> None:
    proc, out = xtalk_run(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("history.jsonl", "scenario.json", "verdict.json", "locust.html", "locust_stats.csv"):
        assert (out / name).is_file(), name
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["verdict"] == "pass"
    assert verdict["requests"]["completed"] >= 10
    assert str(out) in proc.stdout
    # Before the load: the preflight; the banner explains Locust's time limit and the drain's share.
    assert "xtalk run: preflight: preflight logged in (register) and opened its WebSocket" in proc.stdout
    assert "Locust's time limit -t" in proc.stdout and "% of the limit) + 30 s margin" in proc.stdout
    assert "of Locust's" in proc.stdout + proc.stderr and "only a safety net" in proc.stdout + proc.stderr
    assert verdict["run"]["workers"] == 1 and verdict["run"]["distributed"] is False
    assert verdict["run"]["backend"] == "embedded"
    assert "one Locust process" in (out / "report.html").read_text()

    records = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert records[0]["kind"] == "meta" and records[-1]["kind"] == "end"
    kinds = {r["kind"] for r in records}
    assert {"login", "open", "send", "recv"} <= kinds
    assert {r["user"] for r in records if r["kind"] == "login"} == {f"u{i:04d}" for i in range(5)}
    text = (out / "history.jsonl").read_text()
    assert "access_token" not in text and "jwt." not in text and "Bearer" not in text

    with open(out / "locust_stats.csv", newline="") as handle:
        names = {row["Name"]: row for row in csv.DictReader(handle)}
    for phase in ("agent_started", "agent_thinking", "agent_completed"):
        assert int(names[phase]["Request Count"]) >= 10, phase


def test_two_workers_write_one_history_shard_each_and_pass(tmp_path: Path) -> None:
    proc, out = xtalk_run(tmp_path, "--workers", "2", "--users", "4", run_time="3s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    shards = sorted(p.name for p in out.glob("history*.jsonl"))
    assert shards == ["history-0.jsonl", "history-1.jsonl"]
    users = set()
    for shard in shards:
        lines = [json.loads(x) for x in (out / shard).read_text().splitlines()]
        assert lines[-1]["kind"] == "end"
        users |= {r["user"] for r in lines if r["kind"] == "login"}
    assert len(users) == 4  # user names never collide across workers


def test_unreachable_host_is_a_usage_error_before_any_user_spawns(tmp_path: Path) -> None:
    proc, out = xtalk_run(tmp_path, "--host", "http://127.0.0.1:9", timeout=60)
    assert proc.returncode == 3
    assert "expected a reachable host" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(out.glob("history*.jsonl"))


class _Broken(http.server.BaseHTTPRequestHandler):
    status = 500

    def _answer(self) -> None:
        body = b'{"detail": "broken on purpose"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("status", [401, 500])
def test_a_host_whose_logins_all_fail_is_a_harness_error_with_one_paragraph(tmp_path: Path, status: int) -> None:
    handler = type("Handler", (_Broken,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        proc, out = xtalk_run(tmp_path, "--host", f"http://127.0.0.1:{server.server_address[1]}", timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "expected users to log in" in proc.stderr and f"answered {status}" in proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines() if '"error"' in x]
    assert errors and all(e["phase"] == "register" for e in errors)
