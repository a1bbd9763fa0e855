"""Record small real Chainlit histories into tests/data/chainlit/ (for offline core tests).

    python -m tests.real.record            # both versions, plain load and takeover: 4 histories

Each is ``xtalk run`` against the example app (a few users, a few seconds), kept as
``history-<plain|takeover>-<version>.jsonl`` beside ``verdict-...json`` (the verdict this
checkout gave when it was recorded). The virtual environments come from the real tier's cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.real.chainlit_env import REPO, ChainlitApp, chainlit_venv

OUT = REPO / "tests" / "data" / "chainlit"
RUNS = {"plain": ("chainlit.toml", ["--users", "3", "--run-time", "4s"]),
        "takeover": ("chainlit_takeover.toml", ["--users", "3", "--run-time", "6s"])}


def main() -> int:
    for version in ("2.10.0", "2.10.1"):
        venv = chainlit_venv(version)
        with tempfile.TemporaryDirectory() as scratch, ChainlitApp(venv, Path(scratch) / "app") as app:
            for kind, (scenario, args) in RUNS.items():
                out = Path(scratch) / kind
                env = {**os.environ, "XTALK_CHAINLIT_PASSWORD": app.password}
                code = subprocess.run([sys.executable, "-m", "xtalk", "run", str(REPO / "scenarios" / scenario),
                                       "--host", app.url, "--out", str(out), *args], cwd=REPO, env=env,
                                      capture_output=True).returncode
                shutil.copy(out / "history.jsonl", OUT / f"history-{kind}-{version}.jsonl")
                shutil.copy(out / "verdict.json", OUT / f"verdict-{kind}-{version}.json")
                print(f"chainlit {version} {kind}: exit {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
