"""What the commands teach: ``xtalk serve --help`` explains every fault and engine path from the
fault table itself; ``xtalk scenarios`` lists every name with when to use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from xtalk.backend.config import ENGINES
from xtalk.backend.faults import FAULTS
from xtalk.cli import main

ROOT = Path(__file__).resolve().parents[3]


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_serve_help_explains_every_fault_with_the_fault_tables_own_description(
        capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "serve")
    for name, info in FAULTS.items():
        assert f"{name} {' '.join(info.description.split())} (default rate {info.default_rate:g})" in text, name
    assert "demo_mode demo mode (" not in text and "relaxed_identity relaxed mode (" not in text


def test_serve_help_explains_every_engine_path(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "serve")
    for name in ENGINES:
        start = text.index(f" {name} ")
        assert len(text[start:].split("  ")[0].split()) > 5, name  # a sentence, not a bare name
    assert "leaks between users under concurrency" in text


def test_xtalk_scenarios_lists_every_shipped_name_with_when_to_use_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        line = next(x for x in out.splitlines() if x.startswith(path.stem + " "))
        assert len(line.split()) > 4, line
    assert "golden_path" in out and "before every release" in out
    assert "demo_leak" in out and "to see what a leak looks like" in out
