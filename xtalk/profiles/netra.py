"""The ``netra`` profile's checker part, for code that imports it by module.

The profile itself is data: ``netra.toml`` beside this module (read and validated by
``xtalk.profiles.load``). ``NETRA`` is ``load_profile("netra").core``.
"""

from __future__ import annotations

from xtalk.core.profile import Profile
from xtalk.profiles import get_profile

NETRA: Profile = get_profile("netra")
