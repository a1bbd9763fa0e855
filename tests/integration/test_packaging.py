"""The wheel carries what an installed xtalk needs away from a checkout: the scenarios (as
``xtalk/scenarios/*.toml``, built from the one copy in the top-level ``scenarios/``), the report's
templates and assets, and the packaged locustfile. Built from a copy of the source tree, so the
checkout gets no ``build/`` or ``*.egg-info``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", "venv", "reports", "build", "dist", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".mypy_cache", ".hypothesis", "tests", "benchmarks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    out = base / "dist"
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = out.glob("xtalk-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_ships_every_top_level_scenario_as_package_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    shipped = sorted(Path(n).name for n in names if n.startswith("xtalk/scenarios/") and n.endswith(".toml"))
    assert shipped == sorted(p.name for p in (ROOT / "scenarios").glob("*.toml"))
    for path in (ROOT / "scenarios").glob("*.toml"):
        assert wheel.read(f"xtalk/scenarios/{path.name}") == path.read_bytes(), path.name


def test_the_wheel_ships_the_report_templates_and_assets_and_the_locustfile(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    templates = {Path(n).name for n in names if n.startswith("xtalk/report/templates/")}
    assert {p.name for p in (ROOT / "xtalk" / "report" / "templates").glob("*.html")} <= templates
    assert templates
    assert {"xtalk/report/report.css", "xtalk/report/report.js", "xtalk/client/locustfile.py"} <= names


def test_the_wheel_installs_no_top_level_package_but_xtalk(wheel: zipfile.ZipFile) -> None:
    tops = {n.split("/")[0] for n in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"xtalk"}
