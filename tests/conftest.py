"""Test-wide settings: Hypothesis profiles.

``ci`` (the default) runs a modest number of examples; ``HYPOTHESIS_PROFILE=thorough`` runs 500
per property, as the checker's acceptance asks. Neither has a deadline: examples are whole
histories, and wall-clock limits make tests flaky on a loaded two-core machine.
"""

from __future__ import annotations

import os

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
