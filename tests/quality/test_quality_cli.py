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


NOT_HISTORIES = {
    "report.html": (b"<!DOCTYPE html>\n<html lang=\"en\"><head><title>xtalk PASS</title></head></html>\n",
                    "an HTML page (an xtalk report?)"),
    "verdict.json": (b'{\n  "schema": "xtalk.verdict/1",\n  "verdict": "pass"\n}\n', "a verdict (xtalk.verdict/1)"),
    "random.json": (b'{"name": "x", "items": [1, 2]}\n', "JSON lines without a \"kind\" field"),
    "list.json": (b'[\n  1,\n  2\n]\n', "a JSON array"),
    "notes.txt": (b"hello\nworld\n", "text that is not JSON (it begins 'hello')"),
    "empty.jsonl": (b"", "an empty file"),
}


@pytest.mark.parametrize("name", sorted(NOT_HISTORIES))
def test_xtalk_check_of_a_file_that_is_no_history_exits_3_and_says_what_it_found(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, found = NOT_HISTORIES[name]
    path = tmp_path / name
    path.write_bytes(data)
    assert main(["check", str(path)]) == 3
    message = capsys.readouterr().err.strip()
    assert message.startswith("xtalk check: expected an xtalk history") and "\n" not in message, message
    assert str(path) in message and found in message, message


def test_xtalk_check_without_out_appends_a_trend_row_under_the_run_id_of_the_history(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from xtalk.report import trend

    h = _leaky()
    h.records[0].update({"run_id": "20261122-000000-nightly", "host": "https://staging.example.com:8443",
                         "scenario": "nightly"})
    path = _write(h, tmp_path)
    monkeypatch.delenv("XTALK_TREND_DB")
    monkeypatch.chdir(tmp_path)
    assert main(["check", str(path)]) == 1
    rows = trend.read_runs(tmp_path / "reports" / "history.sqlite", None)
    assert [(r["run_id"], r["scenario"], r["host"], r["profile"]) for r in rows] == [
        ("20261122-000000-nightly", "nightly", "https://staging.example.com:8443", "netra")]
    out = tmp_path / "elsewhere" / "out"
    assert main(["check", str(path), "--out", str(out)]) == 1  # the same run: its row is replaced
    rows = trend.read_runs(tmp_path / "reports" / "history.sqlite", None)
    assert [r["run_id"] for r in rows] == ["20261122-000000-nightly"]
    assert not (out.parent / "history.sqlite").exists()
    assert orjson.loads((out / "verdict.json").read_bytes())["run"]["id"] == "20261122-000000-nightly"


def test_usage_mistakes_on_the_command_line_exit_3_with_a_teaching_message_not_argparse_2() -> None:
    cases = [(["run"], "required: SCENARIO", "xtalk run scenarios/golden_path.toml"),
             (["run", "golden_path", "--users", "abc"], "--users: expected a whole number but got 'abc'",
              "xtalk run --help"),
             (["check"], "required: HISTORY", "xtalk check --help"),
             (["rn"], "xtalk rn (no such command)", "did you mean `xtalk run`?"),
             (["serve", "--port", "x"], "--port: invalid int value: 'x'", "xtalk serve --help"),
             (["check", "h.jsonl", "--bogus"], "unrecognized arguments: --bogus", "xtalk check --help")]
    for argv, found, fix in cases:
        result = subprocess.run([sys.executable, "-m", "xtalk", *argv], capture_output=True, text=True, timeout=60)
        message = result.stderr.strip()
        assert result.returncode == 3, (argv, result.returncode, message)
        assert message.startswith(f"xtalk{' ' + argv[0] if argv[0] != 'rn' else ''}: expected a command line"), message
        assert found in message and fix in message and "\n" not in message, (argv, message)
