"""Test-wide settings: Hypothesis profiles, and a trend database of each test's own.

``ci`` (the default) runs a modest number of examples; ``HYPOTHESIS_PROFILE=thorough`` runs 500
per property, as the checker's acceptance asks. Neither has a deadline: examples are whole
histories, and wall-clock limits make tests flaky on a loaded two-core machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("quick", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _own_trend_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``xtalk run`` and ``xtalk check`` appends a row to the trend store (by default
    ``reports/history.sqlite`` of the current folder): a test's rows go to a file of its own, never
    into the checkout. Tests of the default location unset the variable themselves."""
    monkeypatch.setenv("XTALK_TREND_DB", str(tmp_path / "trend.sqlite"))
