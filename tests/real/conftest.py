"""The ``real`` tier: xtalk against real Chainlit servers (2.10.0 and 2.10.1) on loopback.

Each version gets a virtual environment of its own in the cache (built once, about two minutes
and 230 MB each; both are built in parallel when missing) and one running example app for the
module. ``XTALK_SKIP_REAL=1`` skips the tier (say, on a machine without a package index).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real.chainlit_env import VERSIONS, ChainlitApp, build_all

_VENVS: dict[str, Path] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("XTALK_SKIP_REAL") == "1":
        skip = pytest.mark.skip(reason="XTALK_SKIP_REAL=1: the real Chainlit tier is skipped")
        for item in items:
            if "real" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def chainlit_venvs() -> dict[str, Path]:
    if not _VENVS:
        _VENVS.update(zip(VERSIONS, build_all()))
    return _VENVS


@pytest.fixture(scope="module", params=VERSIONS)
def chainlit(request: pytest.FixtureRequest, chainlit_venvs: dict[str, Path],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ChainlitApp]]:
    version: str = request.param
    workdir = tmp_path_factory.mktemp(f"chainlit-{version}")
    with ChainlitApp(chainlit_venvs[version], workdir) as app:
        yield version, app
