"""``xtalk check FILE`` end to end: exit codes 0 / 1 / 2 / 3, and ``--out`` writing verdict.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.histories import History, clean_pair, two_users_overlapping
from xtalk.cli import main


def _write(h: History, tmp_path: Path) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_bytes(h.text())
    return path


def _clean() -> History:
    h, a, b = clean_pair()
    return h.end(at=10.0)


def _leaky() -> History:
    h, a, b = clean_pair()
    h.recv("bob", h.frames(a)[1], at=1.4)
    return h.end(at=10.0)


def _inconclusive() -> History:
    h, a, b = two_users_overlapping()
    return h.end(at=10.0)


@pytest.mark.parametrize(("build", "code"), [(_clean, 0), (_leaky, 1), (_inconclusive, 2)],
                         ids=["pass", "fail", "inconclusive"])
def test_xtalk_check_exits_with_the_verdicts_code(build: object, code: int, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert callable(build)
    path = _write(build(), tmp_path)
    assert main(["check", str(path)]) == code
    assert capsys.readouterr().out.strip()


def test_xtalk_check_out_writes_verdict_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XTALK_TREND_DB", str(tmp_path / "trend.sqlite"))
    path = _write(_leaky(), tmp_path)
    out = tmp_path / "out"
    assert main(["check", str(path), "--out", str(out)]) == 1
    data = orjson.loads((out / "verdict.json").read_bytes())
    assert data["schema"] == "xtalk.verdict/1" and data["verdict"] == "fail"
    assert data["anomalies"]["cross_user_event"] == 1
    assert data["findings"][0]["witness"]


def test_xtalk_check_json_prints_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(_clean(), tmp_path)
    assert main(["check", str(path), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["verdict"] == "pass"


def test_xtalk_check_of_a_missing_file_is_a_usage_error_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "xtalk", "check", str(tmp_path / "nope.jsonl")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and "nope.jsonl" in result.stderr


def test_python_m_xtalk_check_gives_the_same_exit_code(tmp_path: Path) -> None:
    path = _write(_leaky(), tmp_path)
    result = subprocess.run([sys.executable, "-m", "xtalk", "check", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1, result.stderr
