"""Loading a scenario: a TOML file (or its JSON form) plus command-line overrides → ``Scenario``.

``load_scenario(path, overrides)`` is what ``xtalk run`` calls; ``scenario_from_env()`` is what
Locust processes call (``XTALK_SCENARIO`` names a ``.toml`` or the run's resolved
``scenario.json``). ``scenario_to_dict`` writes that JSON form: the same sections and keys as the
TOML file, fully resolved (durations in seconds, shape stages explicit, paths absolute), so
``scenario_from_dict(scenario_to_dict(s)) == s`` and the JSON goes through the same validation.

Every problem (missing file, malformed TOML, unknown key, wrong type, impossible value, missing
secret) is a ``UsageError``; nothing here lets an ``OSError`` or a parser exception through.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from typing import Any

from xtalk.errors import UsageError
from xtalk.scenario.duration import parse_duration
from xtalk.scenario.model import Scenario
from xtalk.scenario.validate import AUTH_COMMON, AUTH_KEYS, SCHEMA, build_scenario

ENV_VAR = "XTALK_SCENARIO"
SCENARIO_DIR = "scenarios"


def load_scenario(
    path: str | None,
    overrides: Mapping[str, object] | None = None,
    *,
    check_env: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Scenario:
    """The validated scenario in ``path`` (``None``: the defaults) with ``overrides`` applied.

    ``overrides`` keys: ``host``, ``users``, ``spawn_rate``, ``run_time`` (seconds or ``"30s"``),
    ``seed``; ``None`` values are ignored. ``check_env=False`` skips the checks of environment
    variables and secret files (``xtalk check`` re-reading a staging scenario needs none).
    """
    if path is None:
        return build_scenario({}, source="the default scenario", overrides=overrides,
                              check_env=check_env, environ=environ)
    resolved = _find(path)
    raw = read_document(resolved)
    if resolved.endswith(".json"):
        # A run folder's scenario.json: resolved already; it remembers the original file's path.
        doc = _from_flat(raw) if _is_flat(raw) else raw
        original = doc.pop("path", None)
        return build_scenario(doc, source=path, path=original if isinstance(original, str) else None,
                              overrides=overrides, check_env=check_env, environ=environ)
    return build_scenario(raw, source=path, path=resolved,
                          base_dir=os.path.dirname(os.path.abspath(resolved)),
                          overrides=overrides, check_env=check_env, environ=environ)


def scenario_from_env(environ: Mapping[str, str] | None = None) -> Scenario:
    """The scenario named by ``XTALK_SCENARIO`` (unset or empty: the defaults)."""
    env = os.environ if environ is None else environ
    path = env.get(ENV_VAR) or None
    return load_scenario(path, environ=env)


def read_document(path: str) -> dict[str, Any]:
    """The parsed TOML (or JSON, by suffix) document at ``path``, as plain dicts and lists."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise UsageError("a scenario file", f"{path} (a folder)", _listing_fix(path)) from None
    except OSError as error:
        raise UsageError("a readable scenario file", f"{path} ({error.strerror})",
                         "check the path and its permissions") from None
    if path.endswith(".json"):
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise UsageError("a JSON scenario (as xtalk run writes scenario.json)",
                             f"invalid JSON in {path}: {error}", "re-run xtalk run, or point at the .toml") from None
    else:
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise UsageError("a UTF-8 TOML scenario file", f"{path} has a non-UTF-8 byte at offset "
                             f"{error.start}", "save the file as UTF-8") from None
        except tomllib.TOMLDecodeError as error:
            # tomllib's message ends "(at line L, column C)": where to look.
            raise UsageError("a valid TOML scenario file", f"{error} in {path}",
                             "fix the TOML syntax there (strings need \"quotes\", tables [brackets]); "
                             "scenarios/README.md shows every section") from None
    if not isinstance(doc, dict):
        raise UsageError("a scenario document (a table of sections)", f"a {type(doc).__name__} in {path}",
                         "start from scenarios/golden_path.toml")
    return doc


def _find(path: str) -> str:
    """``path`` itself, or for a bare name such as ``golden_path`` ``./scenarios/<name>.toml``,
    else the scenario of that name shipped with xtalk (``xtalk.scenario.library``)."""
    from xtalk.scenario.library import find_named

    if os.path.exists(path):
        return path
    named = find_named(path)
    if named is not None:
        return named
    raise UsageError("an existing scenario file", f"{path} (no such file)", _listing_fix(path))


def _listing_fix(path: str) -> str:
    folder = os.path.dirname(path)
    if not folder:
        from xtalk.scenario.library import entries

        names = [e.name for e in entries()]
        if names:
            return f"name one of {', '.join(names)} (`xtalk scenarios` says when to use each), or pass a .toml path"
        return "pass the path of a .toml scenario file"
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".toml"))
    except OSError:
        names = []
    if names:
        return f"pick one of {folder}/: {', '.join(names)}"
    return "check the path; `xtalk scenarios` lists the scenarios xtalk ships"


# -- the JSON form --------------------------------------------------------------------------


def scenario_to_dict(s: Scenario) -> dict[str, Any]:
    """The resolved scenario in the file's own sections (JSON-ready; no secret values)."""
    run: dict[str, Any] = {
        "name": s.name, "description": s.description, "profile": s.profile, "users": s.users,
        "spawn_rate": s.spawn_rate, "run_time": s.run_time, "seed": s.seed, "pacing": s.pacing,
        "connect_timeout": s.connect_timeout, "engines": list(s.engines),
    }
    if s.host is not None:
        run["host"] = s.host
    if s.arrival_rate is not None:
        run["arrival_rate"] = s.arrival_rate
    check: dict[str, Any] = {"deadline": s.deadline}
    if s.drain is not None:
        check["drain"] = s.drain
    backend: dict[str, Any] = {"engine": s.backend.engine,
                               "faults": [{"name": n, "rate": r} for n, r in s.backend.faults]}
    if s.backend.seed is not None:
        backend["seed"] = s.backend.seed
    if s.backend.token_lifetime is not None:
        backend["token_lifetime"] = s.backend.token_lifetime
    if s.backend.max_connections_per_user:
        backend["max_connections_per_user"] = s.backend.max_connections_per_user
    wanted = AUTH_COMMON + AUTH_KEYS[s.auth.strategy]  # other strategies' keys are refused
    auth = {k: v for k, v in _fields(s.auth).items() if v is not None and k in wanted}
    journeys = [
        {
            "name": j.name, "weight": j.weight, "engine": j.engine or "default", "tabs": j.tabs,
            "follow_thread": j.follow_thread,
            "step": [{"kind": st.kind, "prompt": st.prompt, "think_time": list(st.think_time)}
                     for st in j.steps],
        }
        for j in s.journeys
    ]
    latency: dict[str, dict[str, float]] = {}
    for t in s.thresholds.latency:
        latency.setdefault(t.phase, {})[f"p{t.percentile}"] = t.limit
    thresholds: dict[str, Any] = {"anomalies": dict(s.thresholds.anomalies), "latency": latency}
    if s.thresholds.completion_ratio is not None:
        thresholds["completion_ratio"] = s.thresholds.completion_ratio
    if s.thresholds.connection_error_ratio is not None:
        thresholds["connection_error_ratio"] = s.thresholds.connection_error_ratio
    shape = {"kind": s.shape.kind,
             "stages": [{"until": u, "users": n, "spawn_rate": r} for u, n, r in s.shape.stages]}
    return {
        "schema": SCHEMA, "path": s.path, "run": run, "check": check, "backend": backend,
        "auth": auth, "journey": journeys, "thresholds": thresholds, "shape": shape,
        "probes": _fields(s.probes),
    }


def scenario_from_dict(d: Mapping[str, Any], *, check_env: bool = True,
                       environ: Mapping[str, str] | None = None) -> Scenario:
    """The inverse of ``scenario_to_dict``; also accepts any scenario document (validated)."""
    doc = _from_flat(d) if _is_flat(d) else dict(d)
    path = doc.pop("path", None)
    source = path if isinstance(path, str) else "scenario.json"
    return build_scenario(doc, source=source, path=path if isinstance(path, str) else None,
                          check_env=check_env, environ=environ)


def _is_flat(d: Mapping[str, Any]) -> bool:
    """``dataclasses.asdict(scenario)`` rather than the sectioned form (``run``, ``journey``...)."""
    return "run" not in d and ("journeys" in d or "users" in d)


def _from_flat(d: Mapping[str, Any]) -> dict[str, Any]:
    """The sectioned document for a ``dataclasses.asdict(Scenario)`` dict, so that both JSON
    forms in circulation load (and validate) the same way."""
    run_keys = ("name", "description", "host", "profile", "users", "spawn_rate", "run_time",
                "seed", "pacing", "arrival_rate", "connect_timeout", "engines")
    doc: dict[str, Any] = {"path": d.get("path")}
    doc["run"] = {k: d[k] for k in run_keys if d.get(k) is not None}
    doc["check"] = {k: d[k] for k in ("deadline", "drain") if d.get(k) is not None}
    backend = dict(d.get("backend") or {})
    backend["faults"] = [{"name": n, "rate": r} for n, r in backend.get("faults") or ()]
    doc["backend"] = {k: v for k, v in backend.items() if v is not None}
    auth = dict(d.get("auth") or {})
    wanted = AUTH_COMMON + AUTH_KEYS.get(str(auth.get("strategy", "register")), ())
    doc["auth"] = {k: v for k, v in auth.items() if v is not None and k in wanted}
    doc["journey"] = [
        {**{k: v for k, v in j.items() if k != "steps"}, "engine": j.get("engine") or "default",
         "step": list(j.get("steps") or ())}
        for j in d.get("journeys") or ()
    ]
    thresholds = dict(d.get("thresholds") or {})
    latency: dict[str, dict[str, float]] = {}
    for t in thresholds.pop("latency", None) or ():
        latency.setdefault(t["phase"], {})[f"p{t['percentile']}"] = t["limit"]
    doc["thresholds"] = {**{k: v for k, v in thresholds.items() if v is not None}, "latency": latency}
    shape = dict(d.get("shape") or {})
    doc["shape"] = {"kind": shape.get("kind", "constant"),
                    "stages": [{"until": u, "users": n, "spawn_rate": r}
                               for u, n, r in shape.get("stages") or ()]}
    doc["probes"] = dict(d.get("probes") or {})
    return doc


def write_scenario_json(s: Scenario, path: str) -> None:
    """Write the resolved scenario for Locust processes (``XTALK_SCENARIO=<path>``)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(scenario_to_dict(s), handle, indent=2)
        handle.write("\n")


def _fields(obj: object) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}  # type: ignore[attr-defined]


__all__ = ["load_scenario", "scenario_from_env", "scenario_to_dict", "scenario_from_dict",
           "write_scenario_json", "parse_duration", "read_document", "ENV_VAR"]
