"""``xtalk run --workers 2``: one history shard per worker, live counts on the master, and a
verdict that is exactly ``xtalk check`` over the shards; leaks between users of two workers are
attributed to the right owner. Short runs (a few users, a few seconds): figures go to benchmarks/."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

if importlib.util.find_spec("xtalk.backend.app") is None:
    pytest.skip("the reference backend is not in this tree yet", allow_module_level=True)

SCENARIO = """
[run]
name = "it_distributed"
users = {users}
spawn_rate = {users}
run_time = "{run_time}"
seed = 5
[check]
deadline = "10s"
[backend]
engine = "{engine}"
[[journey]]
name = "ask"
think_time = ["0s", "0.1s"]
  [[journey.step]]
  kind = "start_agent"
  prompt = "Hello from {{user}}, request {{n}}"
"""

#: Fields that name the run rather than judge it: the run's own id, host, duration and the
#: command line that re-checks it differ between ``xtalk run`` and ``xtalk check``.
RUN_SPECIFIC = ("run", "recheck")


def xtalk(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xtalk", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def distributed_run(tmp_path: Path, *, engine: str, users: int = 4, run_time: str = "3s") -> tuple[
        subprocess.CompletedProcess[str], Path]:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(SCENARIO.format(users=users, run_time=run_time, engine=engine))
    out = tmp_path / "run"
    return xtalk("run", str(scenario), "--out", str(out), "--workers", "2", cwd=tmp_path), out


def offline_check(out: Path) -> dict[str, Any]:
    shards = sorted(str(p) for p in out.glob("history*.jsonl"))
    proc = xtalk("check", *shards, "--scenario", str(out / "scenario.json"), "--json", cwd=out)
    assert proc.returncode in (0, 1, 2), proc.stderr[-2000:]
    return dict(json.loads(proc.stdout))


def judged(verdict: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in verdict.items() if k not in RUN_SPECIFIC}


def shard_of_users(out: Path) -> dict[str, str]:
    """user -> the shard file whose worker logged that user in."""
    owner: dict[str, str] = {}
    for shard in out.glob("history-*.jsonl"):
        for line in shard.read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") == "login":
                owner[record["user"]] = shard.name
    return owner


def identities(out: Path) -> dict[str, str]:
    """server identity (the token's sub) -> harness user name."""
    found: dict[str, str] = {}
    for shard in out.glob("history-*.jsonl"):
        for line in shard.read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") == "login" and record.get("identity"):
                found[record["identity"]] = record["user"]
    return found


def test_distributed_run_verdict_equals_offline_check_of_its_shards(tmp_path: Path) -> None:
    proc, out = distributed_run(tmp_path, engine="main")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.name for p in out.glob("history*.jsonl")) == ["history-0.jsonl", "history-1.jsonl"]
    run_verdict = json.loads((out / "verdict.json").read_text())
    assert judged(run_verdict) == judged(offline_check(out))
    assert run_verdict["verdict"] == "pass" and run_verdict["requests"]["completed"] > 0

    # The master's live view heard from both workers, and its request count is exact (each
    # request is sent, and recorded, by exactly one worker).
    live = json.loads((out / "live.json").read_text())
    assert [w["worker"] for w in live["workers"]] == ["0", "1"] and live["ended"]
    assert live["total"]["requests"]["sent"] == run_verdict["requests"]["sent"]
    assert live["total"]["anomalies"] == 0
    assert "xtalk live" in proc.stderr + proc.stdout
    # Each Locust process's lines are labelled with the process they came from; the report's
    # header says how the load was made.
    lines = proc.stdout.splitlines()
    for label in ("[master] ", "[worker 1] ", "[worker 2] "):
        assert any(line.startswith(label) for line in lines), label
    assert not [line for line in lines if "INFO/locust" in line and not line.startswith("[")]
    assert run_verdict["run"]["workers"] == 2 and run_verdict["run"]["distributed"] is True
    assert "2 workers" in (out / "report.html").read_text()
    # The merged check streams from the shards: no copy of them in the run folder.
    assert not (out / "merged-history.jsonl").exists()


def test_leaks_between_users_of_different_workers_are_attributed_to_their_owner(tmp_path: Path) -> None:
    proc, out = distributed_run(tmp_path, engine="legacy", users=6, run_time="4s")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert judged(verdict) == judged(offline_check(out))
    shard = shard_of_users(out)
    assert len(set(shard.values())) == 2
    leaks = [f for f in verdict["findings"] if f["kind"] in ("cross_user_event", "cross_user_content")]
    assert leaks
    # Each witness line is found in the shard witness_at names, at the line it names.
    for leak in leaks:
        for path, line in leak["witness_at"]:
            record = json.loads(Path(path).read_text().splitlines()[line - 1])
            assert record["kind"] in ("send", "recv")
    across = [f for f in leaks if f["owner"] in shard and f["user"] in shard and shard[f["owner"]] != shard[f["user"]]]
    assert across, [(f["user"], f["owner"]) for f in leaks]
    # The backend's ground truth names, for each leaked run, the identity whose request it was:
    # every leak found across shards names that identity's harness user as its owner.
    user_of = identities(out)
    # One run may leak to several victims, one ground-truth line each.
    truth: dict[str, set[tuple[str | None, str | None]]] = {}
    for line in (out / "ground_truth.jsonl").read_text().splitlines():
        fact = json.loads(line)
        truth.setdefault(fact["run_id"], set()).add((user_of.get(fact["owner"]), user_of.get(fact["victim"])))
    for leak in across:
        assert leak["run_id"] in truth, leak["run_id"]
        assert (leak["owner"], leak["user"]) in truth[leak["run_id"]], (leak, truth[leak["run_id"]])
