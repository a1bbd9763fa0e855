"""The Wilson score interval of a proportion: how sure a leak rate of k out of n requests is.

Wilson's interval (1927) stays inside [0, 1] and is honest at the edges where the textbook
normal interval is not: 0 leaks out of 40 requests gives [0, 8.8 %], not [0, 0]: no leak seen
is not proof of no leak. With no trials at all nothing is known: [0, 1].
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 % interval


def wilson_interval(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """(low, high) for ``k`` successes out of ``n`` trials; (0, 1) when ``n`` is 0."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    if k == 0:
        low = 0.0  # exactly: the formula gives 0 up to rounding
    if k == n:
        high = 1.0
    return low, high
