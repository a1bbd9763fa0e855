"""The reference backend's settings: one frozen value built once, read everywhere.

``BackendConfig`` is what ``xtalk serve`` builds from its flags, what ``xtalk run`` builds from a
scenario's ``[backend]`` table, and what tests build directly. It holds no secret values: the JWT
secret and the e2e bypass key are read from the environment by ``secrets_from_env`` when the app
is built, never stored in a scenario or printed.

Invariants: ``engine`` is one of ``ENGINES``; every fault name is a key of ``xtalk.backend.faults.FAULTS``
and every rate lies in [0, 1] (``validate`` checks both and raises ``UsageError``); delays are
seconds, ``delay_min <= delay_max``; ``token_lifetime > 0``; ``max_connections_per_user >= 0``
(0: unlimited).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from xtalk.errors import UsageError

#: Engine paths, as Netra's ``?mode=`` names them. ``main``: the flat emitter family;
#: ``isolated``: bridge family nested under ``data`` with a UserExecutionEngine fingerprint;
#: ``factory``: bridge family nested under ``payload`` with a request-scoped engine fingerprint;
#: ``legacy``: one shared agent factory reconfigured per request (leaks under concurrency).
ENGINES: tuple[str, ...] = ("main", "factory", "isolated", "legacy")

JWT_SECRET_ENV = "XTALK_JWT_SECRET"
BYPASS_KEY_ENV = "XTALK_E2E_BYPASS_KEY"
CLOCK_ZERO_ENV = "XTALK_CLOCK_ZERO"


@dataclass(frozen=True, slots=True)
class BackendConfig:
    engine: str = "main"  # path for connections that ask for none
    faults: tuple[tuple[str, float], ...] = ()  # (name, rate in [0, 1])
    seed: int = 1
    delay_min: float = 0.005  # seconds between two events of a run (uniform, seeded)
    delay_max: float = 0.040
    token_lifetime: float = 900.0  # access tokens, seconds (Netra: 15 minutes)
    # Live connections one account may hold (Netra: 3-10); 0: no limit, so ordinary load,
    # multi-tab users and reconnects are never refused unless a run asks for a limit.
    max_connections_per_user: int = 0
    refresh_lifetime: float = 7 * 24 * 3600.0
    jwt_issuer: str = "netra-auth-service"
    jwt_audience: str = "netra-backend"
    ground_truth: str | None = None  # path of the fault ground-truth JSONL file
    retry_delays: tuple[float, ...] = (1.0, 2.0)  # retry_duplicates: waits before attempts 2, 3
    slow_handshake: float = 2.0  # slow_handshake: seconds before accepting
    relaxed_modulus: int = 10000  # relaxed_identity: relaxed_<hash(token) % modulus>
    heartbeat_after: float = 25.0  # server heartbeat after this much client silence (0: never)
    max_message: int = 8192  # client messages above this size get an error frame
    reasoning_alias: float = 0.25  # share of main-path runs whose thinking goes out as "reasoning"
    # Secrets, filled by ``secrets_from_env``; excluded from repr so they never reach a log.
    jwt_secret: str = field(default="", repr=False)
    bypass_key: str | None = field(default=None, repr=False)

    def validate(self) -> BackendConfig:
        """Return self, or raise ``UsageError`` naming the first bad setting."""
        from xtalk.backend.faults import FAULTS  # faults imports this module

        if self.engine not in ENGINES:
            raise UsageError(
                f"an engine path among {', '.join(ENGINES)}",
                f"engine={self.engine}",
                "pass --engine main|factory|isolated|legacy or set [backend] engine in the scenario",
            )
        for name, rate in self.faults:
            if name not in FAULTS:
                raise UsageError(
                    "a known fault name",
                    f"fault={name}",
                    f"use one of: {', '.join(sorted(FAULTS))}",
                )
            if not 0.0 <= rate <= 1.0:
                raise UsageError(
                    "a fault rate between 0 and 1",
                    f"fault={name}={rate}",
                    f"write --fault {name}=0.2 (a probability), or --fault {name} for its default",
                )
        if not self.token_lifetime > 0:
            raise UsageError(
                "a token lifetime above 0 seconds",
                f"token_lifetime={self.token_lifetime}",
                "pass --token-lifetime 900 (Netra: 15 minutes) or set [backend] token_lifetime = \"15m\"",
            )
        if self.max_connections_per_user < 0:
            raise UsageError(
                "a per-user connection limit >= 0 (0: no limit)",
                f"max_connections_per_user={self.max_connections_per_user}",
                "pass --max-connections-per-user 5 (Netra allows 3-10), or 0 for no limit",
            )
        if not 0.0 <= self.delay_min <= self.delay_max:
            raise UsageError(
                "0 <= delay_min <= delay_max",
                f"delay_min={self.delay_min}, delay_max={self.delay_max}",
                "pass --delay MIN:MAX in seconds, e.g. --delay 0.005:0.04",
            )
        return self

    def fault_rate(self, name: str) -> float:
        """The rate of ``name`` (the last one given wins), 0.0 when the fault is off."""
        rate = 0.0
        for fault, value in self.faults:
            if fault == name:
                rate = value
        return rate


def secrets_from_env(config: BackendConfig) -> BackendConfig:
    """Fill the secret fields from the environment: ``XTALK_JWT_SECRET`` (else a random secret
    for this process) and ``XTALK_E2E_BYPASS_KEY`` (else the e2e endpoint refuses everyone)."""
    from dataclasses import replace

    secret = config.jwt_secret or os.environ.get(JWT_SECRET_ENV) or secrets.token_urlsafe(32)
    bypass = config.bypass_key if config.bypass_key is not None else os.environ.get(BYPASS_KEY_ENV)
    return replace(config, jwt_secret=secret, bypass_key=bypass or None)


def parse_fault(text: str, default_rate: float | None = None) -> tuple[str, float]:
    """``NAME`` or ``NAME=RATE`` → (name, rate); a bare name takes the fault's default rate."""
    from xtalk.backend.faults import FAULTS

    name, sep, value = text.partition("=")
    name = name.strip()
    if name not in FAULTS:
        raise UsageError(
            "a known fault name",
            f"--fault {text}",
            f"use one of: {', '.join(sorted(FAULTS))}",
        )
    if not sep:
        return name, FAULTS[name].default_rate if default_rate is None else default_rate
    try:
        rate = float(value)
    except ValueError:
        raise UsageError(
            "a fault rate (a number between 0 and 1)",
            f"--fault {text}",
            f"write --fault {name}=0.2",
        ) from None
    return name, rate
