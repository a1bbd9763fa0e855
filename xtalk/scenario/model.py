"""The resolved scenario: everything a run needs to know, already validated.

A ``Scenario`` is built by ``xtalk.scenario.load`` from a TOML file plus command-line overrides,
and is the one object the runner, the Locust user and the embedded backend read their settings
from. It holds no secrets: auth settings name the environment variables (or files) that hold
them, and the values are read only where they are used.

Times are seconds (float). Every field has the default a user gets with no scenario at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: A request kind of the run's profile (``[request.kinds.NAME]``).
StepKind = str
AuthStrategy = Literal["register", "login", "csv", "e2e_bypass", "mint_jwt"]
Pacing = Literal["closed", "open"]

#: Engine paths of the default profile (``[transport] engines``; kept for the reference
#: backend's ``[backend] engine``). ``None`` in a journey means "the server's default": no engine
#: parameter is sent.
ENGINE_PATHS: tuple[str, ...] = ("main", "factory", "isolated", "legacy")


@dataclass(frozen=True, slots=True)
class Step:
    """One message of a journey. ``prompt`` is a template: ``{user}``, ``{n}`` (the user's request
    counter), ``{journey}`` are filled in; the harness appends the request's content marker."""

    kind: StepKind = "start_agent"
    prompt: str = "Summarise the GPU spend for {user}, request {n}"
    think_time: tuple[float, float] = (0.0, 0.0)  # uniform wait before the next step


@dataclass(frozen=True, slots=True)
class Journey:
    """A weighted conversation a user repeats while the load lasts."""

    name: str = "ask"
    weight: int = 1
    # None: server default (no ``mode``); a path; "matrix": every request is sent down every path
    # in Scenario.engines; "per_user": user i uses Scenario.engines[i % len(engines)].
    engine: str | None = None
    steps: tuple[Step, ...] = (Step(),)
    tabs: int = 1  # connections (browser tabs) a user holds at once; requests rotate over them
    follow_thread: bool = True  # follow-ups reuse the thread the harness created for the user


@dataclass(frozen=True, slots=True)
class Auth:
    """How users get tokens. Secret values live in the environment or a file, never here."""

    strategy: AuthStrategy = "register"
    email: str = "xtalk-{run}-{user}@example.test"  # template; {run} keeps runs apart
    auth_host: str | None = None  # the auth service's base URL; None: the run's host
    password_env: str | None = None  # unset: a random password per run (register strategy)
    password_file: str | None = None  # or: a file holding the password (absolute path)
    accounts_csv: str | None = None  # csv strategy: columns email,password (absolute path)
    bypass_key_env: str | None = None  # e2e_bypass: env var holding X-E2E-Bypass-Key
    bypass_key_file: str | None = None  # or: a file holding it
    jwt_secret_env: str | None = None  # mint_jwt: env var holding the HS256 secret
    jwt_secret_file: str | None = None  # or: a file holding it
    jwt_audience: str | None = None  # mint_jwt: the token's aud; None: the profile's [auth.mint] audience
    jwt_issuer: str | None = None  # mint_jwt: the token's iss; None: the profile's [auth.mint] issuer
    token_lifetime: float = 900.0  # refresh and reconnect before this runs out
    refresh: bool = True  # False: keep the first token (probes expiry on long runs)


@dataclass(frozen=True, slots=True)
class LatencyThreshold:
    phase: Literal["agent_started", "agent_thinking", "agent_completed"]
    percentile: Literal[50, 95, 99]
    limit: float  # seconds


@dataclass(frozen=True, slots=True)
class Thresholds:
    anomalies: dict[str, int] = field(default_factory=dict)  # kind -> allowed count (default 0)
    latency: tuple[LatencyThreshold, ...] = ()
    completion_ratio: float | None = None  # min completed / sent (unknowns excluded)
    connection_error_ratio: float | None = None  # max failed opens / attempted opens


@dataclass(frozen=True, slots=True)
class Backend:
    """The embedded reference backend, started when the run has no host."""

    engine: str = "main"  # the path served to connections that ask for none
    faults: tuple[tuple[str, float], ...] = ()  # (fault name, rate in [0, 1])
    seed: int | None = None  # None: the run's seed
    token_lifetime: float | None = None  # seconds access tokens live; None: the backend's 15 min
    max_connections_per_user: int = 0  # live connections per account; 0: no limit


@dataclass(frozen=True, slots=True)
class Shape:
    """A Locust LoadTestShape; ``kind == "constant"`` means plain ``users`` at ``spawn_rate``.

    A loaded scenario always has ``stages`` resolved (``xtalk.scenario.shape``): never empty,
    ``until`` strictly increasing, the last ``until`` equal to ``run_time``. Drive Locust with
    ``xtalk.scenario.shape.target_at(shape, t)``. The default instance (no stages) is only the
    model's placeholder."""

    kind: Literal["constant", "ramp", "steps", "spike", "soak"] = "constant"
    stages: tuple[tuple[float, int, float], ...] = ()  # (until second, users, spawn rate)


@dataclass(frozen=True, slots=True)
class Probes:
    foreign_thread: bool = False
    spoofed_user_id: bool = False
    connection_limit: int = 0  # > 0: open this many connections for one user
    expired_token: bool = False
    reconnect_storm: int = 0  # > 0: this many rapid reconnects per probing user
    session_takeover: bool = False  # a second user connects naming another user's live session


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str = "adhoc"
    path: str | None = None
    description: str = ""
    host: str | None = None  # None: start the embedded reference backend
    profile: str = "netra"
    users: int = 10
    spawn_rate: float = 10.0
    run_time: float = 30.0  # seconds of load, before the drain
    seed: int = 1
    deadline: float = 30.0  # a request's response deadline
    drain: float | None = None  # None: the deadline
    pacing: Pacing = "closed"
    arrival_rate: float | None = None  # open pacing: requests per second over all users
    connect_timeout: float = 30.0
    engines: tuple[str, ...] = ("main", "isolated")  # what "matrix" journeys fan out over
    journeys: tuple[Journey, ...] = (Journey(),)
    auth: Auth = Auth()
    thresholds: Thresholds = Thresholds()
    backend: Backend = Backend()
    shape: Shape = Shape()
    probes: Probes = Probes()

    @property
    def drain_window(self) -> float:
        return self.deadline if self.drain is None else self.drain
