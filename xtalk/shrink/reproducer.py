"""From a failing run folder to its minimal reproducer: read the failure, search, write the results.

``read_failure`` reads what a run folder holds (``verdict.json``, the resolved ``scenario.json``
with its host or its embedded backend's engine and faults) and picks the anomaly kind to keep;
every problem with it is a ``UsageError`` before anything runs. ``shrink_failure`` runs the
search (``xtalk.shrink.search``) with real trials: each candidate run is an ``xtalk run`` of the
candidate's scenario into ``OUT/runs/step-NN-try-K/``, bounded by its own users, run time and
drain (never more than the original's), and the whole search by the budget. ``write_results``
writes ``OUT/<name>.min.toml``, moves the minimal run's folder to ``OUT/<name>.min/`` (its
report links back to the original run), and writes the log (``shrink-log.txt``, ``.json``).

A run *fails with* a kind when its verdict counts more of that kind than the run's scenario
allows (``anomalies[kind] > anomaly_limits[kind]``, 0 by default).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from xtalk.errors import UsageError
from xtalk.scenario.load import load_scenario
from xtalk.scenario.model import Scenario
from xtalk.shrink import log as shrink_log
from xtalk.shrink.candidates import Candidate, Shrinkable
from xtalk.shrink.scenario_file import render_scenario_toml
from xtalk.shrink.search import Result, Step, TryResult, search
from xtalk.trials.execute import read_verdict, run_trial
from xtalk.trials.progress import TrialProgress


@dataclass(frozen=True, slots=True)
class Failure:
    run_dir: Path
    verdict: dict[str, Any]
    scenario: Scenario
    kind: str
    run_id: str


def failing_kinds(verdict: dict[str, Any]) -> list[str]:
    """The anomaly kinds a verdict counts above their limits, in the verdict's (precedence) order."""
    anomalies = verdict.get("anomalies")
    limits = verdict.get("anomaly_limits")
    limits = limits if isinstance(limits, dict) else {}
    if not isinstance(anomalies, dict):
        return []
    out = []
    for k, n in anomalies.items():
        limit = limits.get(k)
        if isinstance(n, int) and n > (limit if isinstance(limit, int) else 0):
            out.append(k)
    return out


def fails_with(verdict: dict[str, Any] | None, kind: str) -> bool:
    return verdict is not None and verdict.get("verdict") == "fail" and kind in failing_kinds(verdict)


def read_failure(run_dir: Path, *, kind: str | None = None, host: str | None = None) -> Failure:
    if not run_dir.is_dir():
        raise UsageError("RUN_DIR to be the folder of a failing run", f"RUN_DIR={run_dir} (no such folder)",
                         "pass the folder that `xtalk run` printed, e.g. reports/<run-id>")
    verdict = read_verdict(run_dir)
    if verdict is None:
        raise UsageError("a verdict.json in RUN_DIR", f"RUN_DIR={run_dir} without a readable verdict.json",
                         "pass a folder written by `xtalk run` (re-check it first with xtalk check ... --out RUN_DIR)")
    if not (run_dir / "scenario.json").is_file():
        raise UsageError("the run's resolved scenario.json in RUN_DIR", f"RUN_DIR={run_dir} without scenario.json",
                         "shrink needs a folder written by `xtalk run` (a folder of `xtalk check` has no scenario)")
    overrides = {"host": host} if host else None
    scenario = load_scenario(str(run_dir / "scenario.json"), overrides)
    kinds = failing_kinds(verdict)
    word = verdict.get("verdict")
    if word != "fail" or not kinds:
        why = "no anomaly kind above its limit" if word == "fail" else f"verdict={word}"
        raise UsageError("a run that failed with an anomaly", f"{why} in {run_dir / 'verdict.json'}",
                         "shrink a run whose verdict is fail because of an anomaly (a failed latency or "
                         "completion threshold alone cannot be shrunk); run it first: xtalk run SCENARIO")
    if kind is None:
        kind = kinds[0]
    elif kind not in kinds:
        raise UsageError("--kind to name an anomaly kind the run failed with", f"--kind {kind}",
                         f"pick one of: {', '.join(kinds)}")
    run = verdict.get("run")
    run_id = str(run.get("id")) if isinstance(run, dict) and run.get("id") else run_dir.name
    return Failure(run_dir, verdict, scenario, kind, run_id)


def default_out(run_dir: Path) -> Path:
    return run_dir.parent / f"{run_dir.name}.shrink"


def check_out(out: Path) -> None:
    if (out / "shrink-log.json").exists() or any((out / "runs").glob("*")):
        raise UsageError("a new --out folder", f"{out} already holds a shrink", "pass --out with a new folder, "
                         "or remove the old one")
    try:
        (out / "runs").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError("a writable --out folder", f"{out} ({error.strerror})",
                         "pass --out DIR pointing at a folder you can write") from None


def describe(c: Candidate) -> str:
    return f"{c.users} user{'' if c.users == 1 else 's'}, {c.run_time:g} s of load, drain {c.drain:g} s"


@dataclass
class Shrink:
    failure: Failure
    shrinkable: Shrinkable
    result: Result[Candidate]
    out: Path
    tries: int
    budget: float
    minimal_dir: Path | None = None
    minimal_toml: Path | None = None


def shrink_failure(failure: Failure, *, out: Path, tries: int, budget: float, progress: TrialProgress,
                   clock: Callable[[], float] = time.monotonic) -> Shrink:
    name = failure.scenario.name
    shrinkable = Shrinkable(failure.scenario, name=f"{name}-min",
                            description=f"minimal reproducer of {failure.kind}, shrunk by xtalk shrink from run "
                            f"{failure.run_id}")
    kind = failure.kind

    def run_try(config: Candidate, step: Step[Candidate], number: int) -> TryResult:
        progress.begin(f"step {step.number} · {step.change} · try {number}/{tries}")
        folder = out / "runs" / f"step-{step.number:02d}-try-{number}"
        trial = run_trial(shrinkable.scenario_of(config), folder)
        reproduced = fails_with(trial.verdict, kind)
        return TryResult(reproduced, trial.seconds, folder, None if trial.verdict is not None else trial.error)

    def on_step(step: Step[Candidate]) -> None:
        outcome = "reproduced" if step.reproduced else "not reproduced"
        error = f" (error: {step.errors[0]})" if step.errors else ""
        progress.end(f"step {step.number}: {step.change}: {describe(step.config)}: {outcome} "
                     f"{step.hits}/{len(step.tries)} of {tries}{error} in {step.seconds:.1f} s")

    progress.say(f"shrinking run {failure.run_id} ({describe(shrinkable.original)}), which failed with {kind}; "
                 f"{tries} tries per candidate, budget {budget:g} s")
    result = search(shrinkable.original, shrinkable.dimensions(), run_try, tries=tries, budget=budget, clock=clock,
                    estimate=shrinkable.estimate, valid=shrinkable.invalid, on_step=on_step)
    return Shrink(failure, shrinkable, result, out, tries, budget)


def _comment(shrink: Shrink, toml_path: Path) -> str:
    failure, best = shrink.failure, shrink.result.best
    step = shrink.result.best_step
    journeys = len(best.journeys)
    steps = sum(len(s) for _, s in best.journeys)
    rate = f"{step.hits}/{len(step.tries)}" if step is not None else "?"
    return "\n".join([
        f"{shrink.shrinkable.name}: the minimal reproducer of {failure.kind} that xtalk shrink found.",
        "",
        f"Shrunk from run {failure.run_id} ({failure.run_dir.resolve()}):",
        f"  {describe(shrink.shrinkable.original)}",
        f"to {describe(best)}, {journeys} journey(s) of {steps} step(s) in all, spawn rate {best.spawn_rate:g}/s;",
        f"it failed with {failure.kind} in {rate} runs (step {step.number if step else '?'} of "
        f"{shrink.out / 'shrink-log.txt'}).",
        "",
        f"Run it again:  xtalk run {toml_path}",
    ])


def write_results(shrink: Shrink) -> None:
    """The log always; the minimal scenario and run folder when something reproduced."""
    result, out = shrink.result, shrink.out
    (out / "shrink-log.txt").write_text(shrink_log.format_log(result, shrink.tries) + "\n", encoding="utf-8")
    document = shrink_log.log_document(result, shrink.tries, original=shrink.shrinkable.original,
                                       kind=shrink.failure.kind, source=str(shrink.failure.run_dir))
    step = result.best_step
    if step is None or not result.reproduced:
        _write_json(out / "shrink-log.json", document)
        return
    name = shrink.failure.scenario.name
    toml_path = out / f"{name}.min.toml"
    doc = shrink.shrinkable.document(result.best)
    doc.pop("path", None)
    toml_path.write_text(render_scenario_toml(doc, _comment(shrink, toml_path)), encoding="utf-8")
    shrink.minimal_toml = toml_path
    minimal_dir = out / f"{name}.min"
    last = step.tries[-1].detail
    if isinstance(last, Path) and last.is_dir():
        if minimal_dir.exists():
            shutil.rmtree(minimal_dir)
        os.replace(last, minimal_dir)
        _link_back(minimal_dir, shrink)
        shrink.minimal_dir = minimal_dir
    document["minimal_scenario"] = str(toml_path)
    document["minimal_run"] = str(minimal_dir) if shrink.minimal_dir else None
    _write_json(out / "shrink-log.json", document)


def _link_back(run_dir: Path, shrink: Shrink) -> None:
    """Point the minimal run's verdict and report at the original run (``run.shrunk_from``)."""
    from xtalk.report import outputs, trend
    from xtalk.runner.outcome import recheck_command

    verdict = read_verdict(run_dir)
    if verdict is None:
        return
    failure = shrink.failure
    original = shrink.shrinkable.original
    found = verdict.get("run")
    run: dict[str, Any] = found if isinstance(found, dict) else {}
    run["shrunk_from"] = {
        "run_id": failure.run_id,
        "run_dir": str(failure.run_dir.resolve()),
        "report": os.path.relpath(failure.run_dir.resolve() / "report.html", run_dir.resolve()),
        "kind": failure.kind,
        "users": original.users,
        "run_time": original.run_time,
        "scenario": str(shrink.minimal_toml or ""),
    }
    verdict["run"] = run
    verdict["recheck"] = recheck_command(run_dir)
    outputs.write_atomic(run_dir / "verdict.json", outputs.dump_verdict(verdict))
    outputs.write_reports(run_dir, verdict, outputs.read_trend(trend.default_db(), verdict))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
