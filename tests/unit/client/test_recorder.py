"""The history recorder: SPEC format, no secrets, flushed at the end and when the process dies."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from xtalk.client.recorder import SCHEMA, Recorder, redact_url


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_every_record_kind_is_written_in_the_spec_shape(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "history.jsonl", clock_zero=0.0, install_handlers=False)
    rec.meta(profile="netra", scenario="golden_path", seed=7, worker=None)
    rec.login("u0001", "sub-1")
    rec.open("u0001", "u0001-c1", "main", "ws://h/ws?mode=main")
    rec.send("u0001", "u0001-c1", "u0001-r1", "th_1", "xtm-00112233aabbccdd", {"type": "start_agent"})
    rec.recv_text("u0001", "u0001-c1", b'{"type":"agent_started","run_id":"r"}', {"type": "agent_started", "run_id": "r"})
    rec.recv_text("u0001", "u0001-c1", b"not json", None)
    rec.recv_binary("u0001", "u0001-c1", b"\x00\x01")
    rec.close_conn("u0001", "u0001-c1", 1000, "bye", "client")
    rec.end(1.5)
    rec.close()
    records = lines(tmp_path / "history.jsonl")
    assert [r["kind"] for r in records] == ["meta", "login", "open", "send", "recv", "recv", "recv", "close", "end"]
    meta, login, opened, send, recv, raw, binary, close, end = records
    assert meta["schema"] == SCHEMA and meta["seed"] == 7 and "started_at" in meta
    assert login["identity"] == "sub-1"
    assert opened["engine"] == "main" and opened["conn"] == "u0001-c1"
    assert send["req"] == "u0001-r1" and send["marker"] == "xtm-00112233aabbccdd" and send["thread"] == "th_1"
    assert recv["frame"] == {"type": "agent_started", "run_id": "r"}
    assert raw["raw"] == "not json"
    assert binary["binary"] is True and binary["raw"] == "AAE="
    assert close["by"] == "client" and close["code"] == 1000
    assert end["drain"] == 1.5
    assert all(isinstance(r["t"], float) for r in records[1:])


def test_end_is_the_last_record_and_later_records_are_dropped(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "h.jsonl", install_handlers=False)
    rec.end(0.0)
    assert rec.close_conn("u1", "u1-c1", 1000, "", "client") == 0
    rec.close()
    assert [r["kind"] for r in lines(tmp_path / "h.jsonl")] == ["end"]


def test_a_multiline_frame_is_re_encoded_to_keep_one_record_per_line(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "h.jsonl", install_handlers=False)
    rec.recv_text("u1", "u1-c1", b'{\n "type": "pong"\n}', {"type": "pong"})
    rec.close()
    assert lines(tmp_path / "h.jsonl")[0]["frame"] == {"type": "pong"}


def test_open_url_never_keeps_a_token_query_parameter(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "h.jsonl", install_handlers=False)
    rec.open("u1", "u1-c1", None, "ws://h/ws?mode=main&token=eyJsecret")
    rec.close()
    text = (tmp_path / "h.jsonl").read_text()
    assert "eyJsecret" not in text
    assert lines(tmp_path / "h.jsonl")[0]["url"] == "ws://h/ws?mode=main"
    assert redact_url("ws://h/ws") == "ws://h/ws"


def test_the_hook_sees_each_record_with_its_line_number_and_text(tmp_path: Path) -> None:
    seen: list[tuple[str, int, str]] = []
    rec = Recorder(tmp_path / "h.jsonl", install_handlers=False,
                   on_record=lambda r, n, t: seen.append((r["kind"], n, t)))
    rec.login("u1", "id1")
    rec.recv_text("u1", "u1-c1", b'{"type":"x"}', {"type": "x"})
    rec.close()
    file_lines = (tmp_path / "h.jsonl").read_text().splitlines()
    assert [(k, n) for k, n, _ in seen] == [("login", 1), ("recv", 2)]
    assert [t for _, _, t in seen] == file_lines


def test_a_failing_hook_never_breaks_recording(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "h.jsonl", install_handlers=False, on_record=lambda r, n, t: 1 / 0)
    rec.login("u1", "id1")
    rec.close()
    assert rec.hook_errors == 1 and len(lines(tmp_path / "h.jsonl")) == 1


def test_records_are_buffered_until_flush(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "h.jsonl", install_handlers=False)
    rec.login("u1", "id1")
    assert (tmp_path / "h.jsonl").read_bytes() == b""
    rec.flush()
    assert len(lines(tmp_path / "h.jsonl")) == 1
    rec.close()


_CHILD = textwrap.dedent("""
    import os, signal, sys
    from xtalk.client.recorder import Recorder
    rec = Recorder(sys.argv[1])
    rec.login("u1", "id1")
    if sys.argv[2] == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    sys.exit(0)  # no close(): atexit must flush
""")


def test_history_is_flushed_when_the_process_exits_without_closing(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    subprocess.run([sys.executable, "-c", _CHILD, str(path), "exit"], check=True, timeout=60)
    assert [r["kind"] for r in lines(path)] == ["login"]


def test_history_is_flushed_when_the_process_is_terminated(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), "term"], timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert [r["kind"] for r in lines(path)] == ["login"]


def test_clock_counts_from_the_runs_clock_zero(tmp_path: Path) -> None:
    import time

    zero = time.monotonic() - 100.0
    rec = Recorder(tmp_path / "h.jsonl", clock_zero=zero, install_handlers=False)
    try:
        assert 100.0 <= rec.now() < 160.0
    finally:
        rec.close()
