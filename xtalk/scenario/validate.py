"""From a parsed scenario document (TOML or its JSON form) to a validated ``Scenario``.

Every mistake is found here, before any user spawns, and raised as ``UsageError`` naming the file,
the key path and the value (see ``fields``). The document's sections are ``[run]``, ``[check]``,
``[backend]``, ``[auth]``, ``[[journey]]`` (with ``[[journey.step]]``), ``[thresholds]``,
``[shape]`` and ``[probes]``; ``scenarios/README.md`` documents every key.

The run's profile (``[run] profile``: a shipped name or a profile file) is read first; what it
can express decides what the rest may say: its engine paths, request kinds, auth strategies, and
which probes it supports; a profile without the reference backend needs a host.

Invariants of the result: every engine path is known; every anomaly kind in thresholds exists;
ratios are in [0, 1]; durations are finite seconds; ``shape.stages`` is resolved (never empty,
its last ``until`` is ``run_time``); relative file paths are made absolute against the scenario
file's folder; no secret value is held, only the names of variables and files.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from xtalk.errors import UsageError
from xtalk.scenario import shape as shapes
from xtalk.scenario.catalog import (
    PERCENTILES,
    PHASES,
    anomaly_kinds,
    fault_default_rate,
    fault_names,
)
from xtalk.scenario.duration import DURATION_HINT
from xtalk.scenario.fields import Table, closest, show
from xtalk.scenario.model import (
    ENGINE_PATHS,
    Auth,
    Backend,
    Journey,
    LatencyThreshold,
    Probes,
    Scenario,
    Shape,
    Step,
    Thresholds,
)
from xtalk.scenario.secrets import check_auth

if TYPE_CHECKING:
    from xtalk.profiles.model import WireProfile

SCHEMA = "xtalk.scenario/1"

SECTIONS: dict[str, tuple[str, ...]] = {
    "run": ("name", "description", "host", "host_env", "profile", "users", "spawn_rate", "run_time",
            "seed", "pacing", "arrival_rate", "connect_timeout", "engines"),
    "check": ("deadline", "drain"),
    "backend": ("engine", "faults", "seed", "token_lifetime", "max_connections_per_user"),
    "auth": ("strategy", "email", "auth_host", "auth_host_env", "token_lifetime", "refresh",
             "password_env", "password_file", "accounts_csv", "bypass_key_env", "bypass_key_file",
             "jwt_secret_env", "jwt_secret_file", "jwt_audience", "jwt_issuer"),
    "journey": ("name", "weight", "engine", "tabs", "think_time", "follow_thread", "step"),
    "journey.step": ("kind", "prompt", "think_time"),
    "thresholds": ("anomalies", "latency", "completion_ratio", "connection_error_ratio"),
    "shape": ("kind", "stages", "ramp_up", "steps", "base", "at", "length"),
    "shape.stages": ("until", "users", "spawn_rate"),
    "probes": ("foreign_thread", "spoofed_user_id", "connection_limit", "expired_token",
               "reconnect_storm", "session_takeover"),
}
TOP_KEYS: tuple[str, ...] = ("schema", "run", "check", "backend", "auth", "journey", "thresholds",
                             "shape", "probes")

#: Which keys each auth strategy reads, besides the common ones.
AUTH_COMMON = ("strategy", "email", "auth_host", "auth_host_env", "token_lifetime", "refresh")
AUTH_KEYS: dict[str, tuple[str, ...]] = {
    "register": ("password_env", "password_file"),
    "login": ("password_env", "password_file"),
    "csv": ("accounts_csv",),
    "e2e_bypass": ("bypass_key_env", "bypass_key_file"),
    "mint_jwt": ("jwt_secret_env", "jwt_secret_file", "jwt_audience", "jwt_issuer"),
}
SHAPE_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": (), "ramp": ("ramp_up",), "soak": ("ramp_up",), "steps": ("steps",),
    "spike": ("base", "at", "length"),
}
JOURNEY_CHOICES: tuple[str, ...] = ("default", "matrix", "per_user")
PROMPT_FIELDS: tuple[str, ...] = ("user", "n", "journey")
EMAIL_FIELDS: tuple[str, ...] = ("run", "user")
OVERRIDE_FLAGS: dict[str, str] = {
    "host": "--host", "users": "--users", "spawn_rate": "--spawn-rate", "run_time": "--run-time",
    "seed": "--seed",
}
# Slotted dataclasses keep defaults on instances, not as class attributes.
_SCENARIO, _AUTH, _BACKEND, _STEP = Scenario(), Auth(), Backend(), Step()
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _elsewhere(section: str) -> Any:
    """A hint for a key that is unknown here but known in another section."""
    def hint(key: str) -> str | None:
        if section == "thresholds" and key in anomaly_kinds():
            return f"[thresholds.anomalies] (as {key} = <allowed count>)"
        if section == "thresholds" and key in PHASES:
            return f"[thresholds.latency.{key}] (as p95 = \"10s\")"
        for other, keys in SECTIONS.items():
            if other != section and key in keys and "." not in other:
                return f"[{other}]" if other != "journey" else "each [[journey]]"
        return None
    return hint


def build_scenario(
    raw: Mapping[str, object],
    *,
    source: str,
    path: str | None = None,
    base_dir: str | None = None,
    overrides: Mapping[str, object] | None = None,
    check_env: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Scenario:
    """Validate ``raw`` (a parsed TOML/JSON document) plus command-line ``overrides``."""
    env = os.environ if environ is None else environ
    base = base_dir if base_dir is not None else os.getcwd()
    top = Table(raw, source=source, path="", known=TOP_KEYS, elsewhere=_elsewhere(""))
    schema = top.get_str("schema", SCHEMA)
    if schema != SCHEMA:
        raise top.error("schema", f'to be "{SCHEMA}"', schema, f'"{SCHEMA}"')

    run_data = dict(top.get_table("run"))
    flags: dict[str, str] = {}
    for key, value in (overrides or {}).items():
        if key not in OVERRIDE_FLAGS:
            raise UsageError(f"an override among {', '.join(OVERRIDE_FLAGS)}", f"override {key}",
                             "this is a bug in the calling command; report it")
        if value is not None:
            run_data[key] = value
            flags[key] = OVERRIDE_FLAGS[key]
            if key == "host":
                run_data.pop("host_env", None)  # --host wins over a host taken from the environment
    run = Table(run_data, source=source, path="run", known=SECTIONS["run"], flags=flags,
                elsewhere=_elsewhere("run"))
    default_name = os.path.splitext(os.path.basename(path))[0] if path else "adhoc"
    profile_ref, profile = _profile(run, base)
    fields: dict[str, Any] = {
        "name": run.get_str("name", default_name, nonempty=True),
        "description": run.get_str("description", ""),
        "host": _host(run, "host", "host_env", env, check_env),
        "profile": profile_ref,
        "users": run.get_int("users", _SCENARIO.users, minimum=1),
        "spawn_rate": run.get_float("spawn_rate", _SCENARIO.spawn_rate, above=0),
        "run_time": run.get_duration("run_time", _SCENARIO.run_time, above=0),
        "seed": run.get_int("seed", _SCENARIO.seed, minimum=0),
        "pacing": run.get_str("pacing", "closed", choices=("closed", "open")),
        "connect_timeout": run.get_duration("connect_timeout", _SCENARIO.connect_timeout, above=0),
        "engines": _engines(run, profile),
    }
    fields["arrival_rate"] = _arrival_rate(run, fields["pacing"])
    run.finish()

    check = Table(top.get_table("check"), source=source, path="check", known=SECTIONS["check"],
                  elsewhere=_elsewhere("check"))
    fields["deadline"] = check.get_duration("deadline", _SCENARIO.deadline, above=0)
    fields["drain"] = check.get_duration("drain", None)
    check.finish()

    fields["backend"] = _backend(Table(top.get_table("backend"), source=source, path="backend",
                                       known=SECTIONS["backend"], elsewhere=_elsewhere("backend")))
    fields["journeys"] = _journeys(top, fields["engines"], profile)
    fields["thresholds"] = _thresholds(Table(top.get_table("thresholds"), source=source,
                                             path="thresholds", known=SECTIONS["thresholds"],
                                             elsewhere=_elsewhere("thresholds")))
    fields["shape"] = _shape(Table(top.get_table("shape"), source=source, path="shape",
                                   known=SECTIONS["shape"], elsewhere=_elsewhere("shape")), fields)
    fields["probes"] = _probes(Table(top.get_table("probes"), source=source, path="probes",
                                     known=SECTIONS["probes"], elsewhere=_elsewhere("probes")), profile)
    auth_table = Table(top.get_table("auth"), source=source, path="auth", known=SECTIONS["auth"],
                       elsewhere=_elsewhere("auth"))
    fields["auth"] = _auth(auth_table, base, env, check_env, profile)
    top.finish()
    if check_env and fields["host"] is None and not profile.reference_backend:  # a run, not a re-check
        raise UsageError(f"a host for the {profile.name} profile ([run] host, host_env or --host URL)",
                         f"no host in {source}",
                         "pass --host http://127.0.0.1:PORT (the embedded reference backend speaks only a profile "
                         "with reference_backend = true)")

    scenario = Scenario(path=path, **fields)
    if check_env:
        check_auth(scenario.auth, source=source, users=shapes.peak_users(scenario.shape),
                   environ=env)
    return scenario


# -- [run] ---------------------------------------------------------------------------------


def _host(table: Table, key: str, env_key: str, env: Mapping[str, str], check_env: bool) -> str | None:
    if table.has(key) and table.has(env_key):
        raise table.error(env_key, f"to be unset when {table.key_path(key)} is set",
                          table.raw(env_key), "nothing", fix=f"keep one of {key} and {env_key}")
    var = table.get_str(env_key, None)
    if var is not None:
        _env_name(table, env_key, var)
        value = env.get(var, "")
        if not value:
            if not check_env:
                return None
            raise UsageError(f"the environment variable {var} to hold the {key} URL "
                             f"({table.key_path(env_key)} in {table.source})", f"{var} unset",
                             f"export {var}=https://..." + (" or pass --host URL" if key == "host" else ""))
        return _url(table, env_key, value)
    url = table.get_str(key, None)
    return None if url is None else _url(table, key, url)


def _url(table: Table, key: str, value: str) -> str:
    match = re.fullmatch(r"(https?|wss?)://[^/\s:]+(:\d{1,5})?(/\S*)?", value.strip())
    if match is None:
        raise table.error(key, 'to be a URL such as "https://staging.example.com" or '
                          '"http://127.0.0.1:8000"', value, "a URL with http(s):// and a host name")
    return value.strip().rstrip("/")


def _profile(run: Table, base: str) -> tuple[str, WireProfile]:
    """The run's profile: a shipped name or a profile file (relative to the scenario's folder),
    read and validated now, so that its mistakes surface before any user spawns."""
    from xtalk import profiles

    ref = cast(str, run.get_str("profile", profiles.DEFAULT, nonempty=True))
    try:
        resolved = profiles.resolve(ref, base)
        return resolved, profiles.load_profile(resolved)
    except UsageError as error:
        raise UsageError(f"run.profile to name a usable profile ({error.expected})",
                         f"{error.found} (run.profile in {run.source})", error.fix) from None


def _engines(run: Table, profile: WireProfile) -> tuple[str, ...]:
    known = profile.transport.engines
    items = run.get_list("engines", None)
    if items is None:
        return profile.transport.default_engines
    if items and not known:
        raise run.error("engines", f"to be unset: the {profile.name} profile has no engine paths", items, "",
                        fix=f"remove engines from [run] in {run.source}")
    if not items and known:
        raise run.error("engines", "to list at least one engine path", items,
                        "a list such as [\"main\", \"isolated\"]")
    for item in items:
        if not isinstance(item, str) or item not in known:
            raise _unknown_engine(run, "engines", item, known)
    if len(set(items)) != len(items):
        raise run.error("engines", "to list each engine path once", items, "a list without repeats")
    return tuple(cast(list[str], items))


def _unknown_engine(table: Table, key: str, value: object, known: tuple[str, ...]) -> UsageError:
    names = ", ".join(f'"{k}"' for k in known) or "none"
    guess = closest(value, known) if isinstance(value, str) else None
    fix = (f'did you mean "{guess}"? ' if guess else "") + f"known: {names}"
    if "matrix" in known:
        fix += ' (an engine path; "default": no ?mode=; "matrix": every run.engines path; ' \
            '"per_user": users spread over run.engines)'
    elif known:
        fix += " (the profile's engine paths)"
    return UsageError(f"{table.key_path(key)} to name a known engine path", table.found(key, value), fix)


def _arrival_rate(run: Table, pacing: str) -> float | None:
    rate = run.get_float("arrival_rate", None, above=0)
    if pacing == "open" and rate is None:
        raise UsageError('run.arrival_rate when pacing = "open"', f"no arrival_rate in [run] of {run.source}",
                         f"add arrival_rate = 20 (requests/s over all users) to [run] in {run.source}")
    if pacing == "closed" and rate is not None:
        raise run.error("arrival_rate", 'only with pacing = "open"', rate, "",
                        fix=f'set pacing = "open" in [run] of {run.source}, or remove arrival_rate '
                        "(closed pacing: each user sends its next request after the last one ends)")
    return rate


def _env_name(table: Table, key: str, value: str) -> None:
    if not _ENV_NAME.match(value):
        raise table.error(key, "to be the NAME of an environment variable (letters, digits, _)",
                          value if not _looks_secret(value) else "<hidden>",
                          'a variable name such as "XTALK_JWT_SECRET"',
                          fix=f'set {table.key_path(key)} = "MY_VAR" in {table.source} and export '
                          "MY_VAR=... in the environment (the value itself never goes in the file)")


def _looks_secret(value: str) -> bool:
    return len(value) >= 16 or not value.isidentifier()


# -- [backend] -----------------------------------------------------------------------------


def _backend(table: Table) -> Backend:
    engine = table.get_str("engine", _BACKEND.engine)
    if engine not in ENGINE_PATHS:
        raise _unknown_engine(table, "engine", engine, ENGINE_PATHS)
    seed = table.get_int("seed", None, minimum=0)
    token_lifetime = table.get_duration("token_lifetime", _BACKEND.token_lifetime, above=0)
    max_conns = table.get_int("max_connections_per_user", _BACKEND.max_connections_per_user, minimum=0)
    faults: list[tuple[str, float]] = []
    known = fault_names()
    for i, item in enumerate(cast(list[object], table.get_list("faults", []))):
        faults.append(_fault(table, i, item, known))
    table.finish()
    return Backend(engine=engine, faults=tuple(faults), seed=seed, token_lifetime=token_lifetime,
                   max_connections_per_user=max_conns)


def _fault(table: Table, index: int, item: object, known: tuple[str, ...] | None) -> tuple[str, float]:
    key = f"faults[{index + 1}]"
    hint = '"name=rate" such as "duplicate_event=0.05", or {name = "...", rate = 0.05}'
    rate: object
    if isinstance(item, str) and "=" in item:
        name, _, text = item.partition("=")
        try:
            rate = float(text)
        except ValueError:
            raise table.error(key, f"to be {hint}", item, hint) from None
    elif isinstance(item, str) and item.strip():
        name, rate = item, fault_default_rate(item.strip())  # as `xtalk serve --fault NAME`
    elif isinstance(item, Mapping):
        sub = Table(item, source=table.source, path=f"backend.{key}", known=("name", "rate"))
        name = sub.check_str("name", sub.require("name", '"fault_name"'), nonempty=True)
        rate = sub.require("rate", "0.05")
        sub.finish()
    else:
        raise table.error(key, f"to be {hint}", item, hint)
    name = name.strip()
    if known is not None and name not in known:
        guess = closest(name, known)
        raise UsageError(f"{table.key_path(key)} to name a fault of the reference backend",
                         f"fault {show(name)} in {table.source}",
                         (f'did you mean "{guess}"? ' if guess else "")
                         + "known faults: " + ", ".join(known))
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise table.error(key, "to have a rate between 0 and 1", item, hint)
    return name, float(rate)


# -- [[journey]] ---------------------------------------------------------------------------


def _journeys(top: Table, engines: tuple[str, ...], profile: WireProfile) -> tuple[Journey, ...]:
    items = top.get_tables("journey")
    if not items:
        return (Journey(steps=(Step(kind=profile.default_request),)),)
    journeys: list[Journey] = []
    for i, data in enumerate(items, start=1):
        table = Table(data, source=top.source, path=f"journey[{i}]", known=SECTIONS["journey"],
                      elsewhere=_elsewhere("journey"))
        journeys.append(_journey(table, i, engines, profile))
        table.finish()
    names = [j.name for j in journeys]
    for i, name in enumerate(names, start=1):
        if names.index(name) != i - 1:
            raise UsageError("each [[journey]] to have its own name", f'journey[{i}].name="{name}" '
                             f"twice in {top.source}", "rename one of them (names label the report)")
    if sum(j.weight for j in journeys) == 0:
        raise UsageError("at least one journey with weight >= 1", f"all weights 0 in {top.source}",
                         "give one journey a weight of 1 or more")
    return tuple(journeys)


def _journey(table: Table, index: int, engines: tuple[str, ...], profile: WireProfile) -> Journey:
    name = cast(str, table.get_str("name", f"journey{index}", nonempty=True))
    engine = table.get_str("engine", "default")
    choices = profile.transport.engines + JOURNEY_CHOICES if profile.transport.engines else ("default",)
    if engine not in choices:
        raise _unknown_engine(table, "engine", engine, choices)
    if engine == "matrix" and len(engines) < 2:
        raise table.error("engine", '"matrix" to have at least two paths in run.engines to compare',
                          engine, "", fix=f'list two or more paths in run.engines of {table.source}, '
                          'e.g. engines = ["main", "isolated"]')
    think = _think_time(table, "think_time", (0.0, 0.0))
    steps: list[Step] = []
    for j, data in enumerate(table.get_tables("step"), start=1):
        sub = Table(data, source=table.source, path=f"{table.path}.step[{j}]",
                    known=SECTIONS["journey.step"], elsewhere=_elsewhere("journey.step"))
        kind = cast(str, sub.get_str("kind", profile.default_request, choices=tuple(k.name for k in profile.requests)))
        prompt = cast(str, sub.get_str("prompt", _STEP.prompt, nonempty=True))
        _template(sub, "prompt", prompt, PROMPT_FIELDS)
        steps.append(Step(kind=kind, prompt=prompt, think_time=_think_time(sub, "think_time", think)))  # type: ignore[arg-type]
        sub.finish()
    return Journey(
        name=name,
        weight=cast(int, table.get_int("weight", 1, minimum=0)),
        engine=None if engine == "default" else engine,
        steps=tuple(steps) if steps else (Step(kind=profile.default_request, think_time=think),),
        tabs=cast(int, table.get_int("tabs", 1, minimum=1, maximum=64)),
        follow_thread=table.get_bool("follow_thread", True),
    )


def _think_time(table: Table, key: str, default: tuple[float, float]) -> tuple[float, float]:
    value = table.raw(key, None)
    if value is None:
        return default
    if isinstance(value, list):
        if len(value) != 2:
            raise table.error(key, "to be one duration or a pair [min, max]", value,
                              '"1s" or ["0.5s", "2s"]')
        low = table.check_duration(key, value[0])
        high = table.check_duration(key, value[1])
        if low > high:
            raise table.error(key, "to be [min, max] with min <= max", value, '["0.5s", "2s"]')
        return low, high
    seconds = table.check_duration(key, value)
    return seconds, seconds


def _template(table: Table, key: str, text: str, allowed: tuple[str, ...]) -> None:
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError as error:
        raise table.error(key, "to be a template with balanced { }", text,
                          "text with {user} style fields; write {{ and }} for literal braces",
                          fix=f"fix the braces in {table.key_path(key)} ({error})") from None
    for field in names:
        if field not in allowed:
            fields = ", ".join("{" + a + "}" for a in allowed)
            raise table.error(key, f"to use only the fields {fields}", text, "",
                              fix=f"replace {{{field}}} in {table.key_path(key)} of {table.source}; "
                              f"known fields: {fields} (write {{{{ }}}} for literal braces)")


# -- [thresholds] --------------------------------------------------------------------------


def _thresholds(table: Table) -> Thresholds:
    anomalies: dict[str, int] = {}
    kinds = anomaly_kinds()
    sub = Table(table.get_table("anomalies"), source=table.source, path="thresholds.anomalies",
                known=kinds, check_keys=False)
    for kind, limit in sub.data.items():
        if kind not in kinds:
            guess = closest(kind, kinds)
            raise UsageError("thresholds.anomalies to name anomaly kinds of SPEC.md",
                             f"unknown anomaly kind {kind}={show(limit)} in {table.source}",
                             (f'did you mean "{guess}"? ' if guess else "") + "known kinds: "
                             + ", ".join(kinds))
        anomalies[kind] = cast(int, sub.get_int(kind, 0, minimum=0))
    latency: list[LatencyThreshold] = []
    phases = Table(table.get_table("latency"), source=table.source, path="thresholds.latency",
                   known=PHASES, check_keys=False)
    for phase in list(phases.data):
        if phase not in PHASES:
            raise phases.unknown(phase, phases.data[phase])
        limits = Table(phases.get_table(phase), source=table.source,
                       path=f"thresholds.latency.{phase}", known=tuple(PERCENTILES))
        for name, percentile in PERCENTILES.items():
            limit = limits.get_duration(name, None, above=0)
            if limit is not None:
                latency.append(LatencyThreshold(phase, percentile, limit))  # type: ignore[arg-type]
        limits.finish()
    thresholds = Thresholds(
        anomalies=anomalies,
        latency=tuple(latency),
        completion_ratio=table.get_float("completion_ratio", None, minimum=0, maximum=1),
        connection_error_ratio=table.get_float("connection_error_ratio", None, minimum=0, maximum=1),
    )
    table.finish()
    return thresholds


# -- [shape] -------------------------------------------------------------------------------


def _shape(table: Table, run: Mapping[str, Any]) -> Shape:
    kind = cast(str, table.get_str("kind", "constant", choices=shapes.SHAPE_KINDS))
    users, rate, run_time = run["users"], run["spawn_rate"], run["run_time"]
    for key in table.data:
        if key in ("kind", "stages") or key not in SECTIONS["shape"]:
            continue
        if key not in SHAPE_PARAMS[kind]:
            owners = [k for k, params in SHAPE_PARAMS.items() if key in params]
            raise table.error(key, f'only with kind = "{owners[0]}"', table.raw(key), "",
                              fix=f"remove {key} from [shape] in {table.source}, or set kind = "
                              + " or ".join(f'"{o}"' for o in owners))
    params: dict[str, Any] = {}
    if table.has("ramp_up"):
        params["ramp_up"] = _time_or_share(table, "ramp_up", run_time)
    if table.has("steps"):
        params["steps"] = table.get_int("steps", 4, minimum=1, maximum=100)
    if table.has("base"):
        params["base"] = table.get_float("base", 0.2, minimum=0, maximum=1)
    for key in ("at", "length"):
        if table.has(key):
            params[key] = _time_or_share(table, key, run_time)
    stage_items = table.get_tables("stages")
    table.finish()
    if stage_items:
        stages = _stages(table, stage_items, users, rate, run_time)
    else:
        stages = shapes.stages_for(kind, users=users, spawn_rate=rate, run_time=run_time, **params)
    return Shape(kind=kind, stages=stages)  # type: ignore[arg-type]


def _time_or_share(table: Table, key: str, run_time: float) -> float:
    """A duration, or a share of the run time written as "40%"."""
    value = table.raw(key)
    if isinstance(value, str) and value.strip().endswith("%"):
        return _share(table, key, value) * run_time
    return table.check_duration(key, value)


def _share(table: Table, key: str, value: str) -> float:
    try:
        share = float(value.strip()[:-1]) / 100
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise table.error(key, "to be a percentage between 0% and 100%", value, '"40%"')
    return share


def _stages(table: Table, items: list[Mapping[str, object]], users: int, rate: float,
            run_time: float) -> tuple[shapes.Stage, ...]:
    stages: list[shapes.Stage] = []
    previous = 0.0
    for i, data in enumerate(items, start=1):
        sub = Table(data, source=table.source, path=f"shape.stages[{i}]",
                    known=SECTIONS["shape.stages"])
        until = _time_or_share(sub, "until", run_time) if sub.has("until") else \
            cast(float, sub.require("until", '"1m" or "50%"'))
        if until <= previous:
            raise sub.error("until", f"> {previous:g} s (the previous stage's end)",
                            sub.raw("until"), "a later time than the stage before")
        count_raw = sub.raw("users", users)
        if isinstance(count_raw, str) and count_raw.strip().endswith("%"):
            count = round(_share(sub, "users", count_raw) * users)
        else:
            count = sub.check_int("users", count_raw, minimum=0)
        stages.append((until, count, cast(float, sub.get_float("spawn_rate", rate, above=0))))
        sub.finish()
        previous = until
    return shapes.clip(stages, run_time)


# -- [probes] and [auth] -------------------------------------------------------------------


def _probes(table: Table, profile: WireProfile) -> Probes:
    probes = Probes(
        foreign_thread=table.get_bool("foreign_thread", False),
        spoofed_user_id=table.get_bool("spoofed_user_id", False),
        connection_limit=cast(int, table.get_int("connection_limit", 0, minimum=0, maximum=1000)),
        expired_token=table.get_bool("expired_token", False),
        reconnect_storm=cast(int, table.get_int("reconnect_storm", 0, minimum=0, maximum=10000)),
        session_takeover=table.get_bool("session_takeover", False),
    )
    table.finish()
    needs = {
        "session_takeover": (profile.transport.names_sessions,
                             "names sessions ({session} in [transport] connect, query or headers)"),
        "foreign_thread": (profile.thread is not None and all(k.thread is not None for k in profile.requests),
                           "creates threads ([thread]) and puts them in requests (\"{thread}\")"),
        "spoofed_user_id": (profile.spoof_user_id is not None, "says where a request may claim a user id "
                            "([request] spoof_user_id)"),
    }
    for name, (possible, what) in needs.items():
        if getattr(probes, name) and not possible:
            raise table.error(name, f"only with a profile that {what}", True, "",
                              fix=f"remove {name} from [probes] in {table.source}; the {profile.name} profile "
                              "cannot express it")
    return probes


def _auth(table: Table, base: str, env: Mapping[str, str], check_env: bool, profile: WireProfile) -> Auth:
    supported = profile.auth.strategies
    strategy = cast(str, table.get_str("strategy", supported[0], choices=tuple(AUTH_KEYS)))
    if strategy not in supported:
        raise table.error("strategy", f"to be one of the {profile.name} profile's strategies "
                          + ", ".join(f'"{s}"' for s in supported), strategy, " or ".join(f'"{s}"' for s in supported))
    for key in table.data:
        if key in AUTH_COMMON or key not in SECTIONS["auth"] or key in AUTH_KEYS[strategy]:
            continue
        owner = next(s for s, keys in AUTH_KEYS.items() if key in keys)
        raise table.error(key, f'only with strategy = "{owner}"', table.raw(key), "",
                          fix=f'remove {key} from [auth] in {table.source}, or set strategy = "{owner}"')
    email = cast(str, table.get_str("email", _AUTH.email, nonempty=True))
    _template(table, "email", email, EMAIL_FIELDS)
    if strategy != "csv" and "{user}" not in email:
        raise table.error("email", "to contain {user}, so that every user gets its own account",
                          email, '"xtalk-{run}-{user}@example.test"')
    values: dict[str, Any] = {"strategy": strategy, "email": email}
    values["auth_host"] = _host(table, "auth_host", "auth_host_env", env, check_env)
    values["token_lifetime"] = table.get_duration("token_lifetime", _AUTH.token_lifetime, above=0)
    values["refresh"] = table.get_bool("refresh", True)
    for key in AUTH_KEYS[strategy]:
        value = table.get_str(key, None, nonempty=True)
        if value is None:
            continue
        if key.endswith("_env"):
            _env_name(table, key, value)
        elif key.endswith(("_file", "_csv")):
            value = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        values[key] = value
    pair = {"e2e_bypass": ("bypass_key_env", "bypass_key_file"),
            "mint_jwt": ("jwt_secret_env", "jwt_secret_file"),
            "register": ("password_env", "password_file"),
            "login": ("password_env", "password_file")}.get(strategy)
    if pair is not None:
        given = [k for k in pair if k in values]
        if len(given) == 2:
            raise table.error(pair[1], f"to be unset when auth.{pair[0]} is set", "<a path>", "",
                              fix=f"keep one of {pair[0]} and {pair[1]} in [auth] of {table.source}")
        if not given and strategy != "register":
            raise UsageError(f'auth.{pair[0]} (or auth.{pair[1]}) for strategy = "{strategy}"',
                             f"neither in [auth] of {table.source}",
                             f'add {pair[0]} = "MY_VAR" to [auth] and export MY_VAR=... '
                             "(the secret itself never goes in the file)")
    if strategy == "csv" and "accounts_csv" not in values:
        raise UsageError('auth.accounts_csv for strategy = "csv"', f"none in [auth] of {table.source}",
                         'add accounts_csv = "accounts.csv" (columns email,password) to [auth]')
    table.finish()
    return Auth(**values)


__all__ = ["SCHEMA", "SECTIONS", "build_scenario", "DURATION_HINT"]
