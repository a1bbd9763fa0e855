"""Packaging hook: the scenarios ship inside the wheel, from the one copy at the top level.

``scenarios/`` stays where the repository's layout has it (SPEC), and the wheel carries the same
files as ``xtalk/scenarios/*.toml`` (package data), so that ``xtalk run golden_path`` works from
any folder after ``pip install xtalk``. Copying at build time keeps one copy of each file in the
repository. Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


class BuildPyWithScenarios(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "xtalk" / "scenarios"
        target.mkdir(parents=True, exist_ok=True)
        for source in sorted(SCENARIOS.glob("*.toml")) + [SCENARIOS / "README.md"]:
            if source.is_file():
                shutil.copyfile(source, target / source.name)


setup(cmdclass={"build_py": BuildPyWithScenarios})
