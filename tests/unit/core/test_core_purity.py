"""The checker core is sans-I/O and strictly typed (STYLE.md: a test enforces the rule)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import xtalk.core

CORE = Path(xtalk.core.__file__).parent
FORBIDDEN = {"locust", "gevent", "websockets", "httpx", "jinja2", "time", "random", "os", "socket",
             "subprocess", "threading", "asyncio", "multiprocessing", "urllib", "http", "requests",
             "pathlib", "io", "shutil", "tempfile", "sqlite3", "signal", "select", "selectors", "datetime"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            names.add("__import__")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module"):
            names.add("importlib.import_module")
    return names


def _modules() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def test_the_core_has_modules_to_check() -> None:
    assert len(_modules()) >= 8


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_core_module_imports_anything_that_does_io(path: Path) -> None:
    imported = _imports(path)
    assert imported & FORBIDDEN == set()
    assert "__import__" not in imported and "importlib.import_module" not in imported


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_core_module_imports_xtalk_outside_the_core(path: Path) -> None:
    tree = ast.parse(path.read_text())
    outside = [
        node.module for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xtalk")
        and not node.module.startswith("xtalk.core")
    ]
    assert outside == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_core_module_calls_open_print_or_input(path: Path) -> None:
    tree = ast.parse(path.read_text())
    calls = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert calls & {"open", "print", "input", "exec", "eval"} == set()


def test_the_import_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os.path\nfrom time import monotonic\nimport orjson\n")
    assert _imports(bad) & FORBIDDEN == {"os", "time"}


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_the_core_passes_mypy_strict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", "/tmp/xtalk-mypy-cache",
         str(CORE)],
        capture_output=True, text=True, timeout=300, cwd=CORE.parent.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
