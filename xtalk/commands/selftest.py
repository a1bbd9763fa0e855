"""``xtalk selftest``: prove, against the reference backend, that every fault is found and that a
clean run passes.

For each case of ``xtalk.backend.proof.CASES``: start ``xtalk serve --fault NAME=RATE`` (with
ground truth), run ``xtalk run`` against it with ``--host`` for a few seconds, and judge the
verdict against the fault's expected kinds and the ground truth. Then (first, alone, because it
needs the CPU) a clean run with >= 200 users that must report nothing. The faults only an active
probe can reveal run with ``[probes]`` on (the scenario written here says which), and a clean
probes case runs every probe against a correct server, which must report nothing either.
Prints the table fault → expected kinds → found (recall) → unexpected (precision); exit 0 only
if every case holds. Every process started here is ours, bounded by ``--exit-after`` or a timeout, and
stopped by its pid.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

from xtalk.backend.faults import FAULTS
from xtalk.backend.proof import CASES, Case, Judgment, clean_case, clean_probes_case, judge
from xtalk.errors import EXIT_FAIL, EXIT_PASS, UsageError
from xtalk.runner.processes import start_child, stop_process

HELP = "prove that every fault the reference backend injects is found"
DESCRIPTION = """\
Prove the checker against the reference backend: one short run per injected fault (the checker
must report the fault's anomaly kinds and nothing it cannot explain), plus a clean run with many
users that must report no anomaly at all. Prints a table; exit 0 only if every case holds.

examples:
  xtalk selftest                              # every fault + a 200-user clean run, < 3 minutes
  xtalk selftest --faults shared_factory,drop_run --skip-clean
  xtalk selftest --faults accept_bad_tokens,trust_client_ids,clean_probes --skip-clean
"""
CLEAN_PROBES = "clean_probes"
PASSWORD_ENV = "XTALK_SELFTEST_PASSWORD"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faults", help="comma-separated faults to prove, and/or clean_probes "
                                    "(default: all, with clean_probes)")
    p.add_argument("--parallel", type=int, default=3, help="fault runs at once (default 3)")
    p.add_argument("--users", type=int, help="users per fault run (default: per case, 12)")
    p.add_argument("--run-time", type=float, help="seconds of load per fault run (default 4)")
    p.add_argument("--clean-users", type=int, default=200, help="users of the clean run (200)")
    p.add_argument("--clean-run-time", type=float, default=8.0, help="seconds (default 8)")
    p.add_argument("--skip-clean", action="store_true", help="do not run the clean case")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", help="folder for the runs (default reports/selftest-<time>)")


def _cases(args: argparse.Namespace) -> list[Case]:
    from dataclasses import replace

    cases = list(CASES) + [clean_probes_case()]
    if args.faults:
        wanted = [name.strip() for name in args.faults.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in FAULTS and name != CLEAN_PROBES]
        if unknown:
            raise UsageError("fault names known to xtalk serve", f"--faults {','.join(unknown)}",
                             f"use some of: {', '.join(FAULTS)}, or {CLEAN_PROBES}")
        cases = [c for c in cases if c.name in wanted]
    if args.users:
        cases = [replace(c, users=args.users) for c in cases]
    if args.run_time:
        cases = [replace(c, run_time=args.run_time) for c in cases]
    return cases


def scenario_text(case: Case, seed: int) -> str:
    auth = ('strategy = "register"\nemail = "selftest-{user}@example.test"\n'
            f'password_env = "{PASSWORD_ENV}"\n') if case.login_again else 'strategy = "register"\n'
    journey = ('engine = "per_user"\n' if case.fault is None else 'engine = "default"\n')
    engines = 'engines = ["main", "isolated", "factory"]\n' if case.fault is None else ""
    probes = "[probes]\n" + "".join(f"{line}\n" for line in case.probes) + "\n" if case.probes else ""
    return (
        f'[run]\nname = "selftest_{case.name}"\nusers = {case.users}\nspawn_rate = {case.users}\n'
        f'run_time = "{case.run_time}s"\nseed = {seed}\n{engines}\n'
        f'[check]\ndeadline = "{case.deadline}s"\n\n'
        f'[auth]\n{auth}\n{probes}'
        f'[[journey]]\nname = "ask"\n{journey}think_time = ["0.05s", "0.3s"]\n'
        '  [[journey.step]]\n  kind = "start_agent"\n'
        '  [[journey.step]]\n  kind = "user_message"\n'
        '  prompt = "And compared with last month, {user}?"\n'
    )


def _start_serve(case: Case, folder: Path, seed: int, env: dict[str, str]
                 ) -> tuple[subprocess.Popen[bytes], str]:
    ready = folder / "ready"
    life = int(case.run_time + 2 * case.deadline + 90)
    cmd = [sys.executable, "-m", "xtalk", "serve", "--port", "0", "--ready-file", str(ready),
           "--exit-after", f"{life}s", "--engine", case.engine, "--seed", str(seed),
           "--ground-truth", str(folder / "ground_truth.jsonl"), *case.serve_flags]
    if case.fault:
        cmd += ["--fault", f"{case.fault}={case.rate}"]
    log = open(folder / "serve.log", "wb")
    proc = start_child(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip():
            return proc, ready.read_text().strip()
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_process(proc)
    raise RuntimeError(f"xtalk serve did not start; see {folder / 'serve.log'}")


def _register_accounts(url: str, users: int, password: str) -> None:
    """Login faults act on logins: make the accounts exist, so the harness logs in."""
    with httpx.Client(base_url=url, timeout=10) as client:
        for n in range(users + 2):
            client.post("/auth/register", json={"email": f"selftest-u{n:04d}@example.test",
                                                "password": password})


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _history_records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    """The history records of one ``kind`` (``error``, ``probe``), from every shard."""
    out: list[dict[str, Any]] = []
    needle = f'"{kind}"'.encode()
    for shard in sorted(run_dir.glob("history*.jsonl")):
        for line in shard.read_bytes().splitlines():
            if needle in line:
                record = orjson.loads(line)
                if record.get("kind") == kind:
                    out.append(record)
    return out


def prove_safely(case: Case, root: Path, seed: int) -> Judgment:
    """``prove``, with a harness failure (a backend that never came up, a refused connection)
    turned into a red case that says what happened, never a traceback."""
    try:
        return prove(case, root, seed)
    except Exception as error:  # noqa: BLE001 - every failure must end as a row of the table
        return Judgment(case, notes=[f"the case could not run: {type(error).__name__}: {error}"])


def prove(case: Case, root: Path, seed: int) -> Judgment:
    folder = root / case.name
    if folder.exists():  # an earlier selftest's case: its run and ready file must not be judged again
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    scenario = folder / "scenario.toml"
    scenario.write_text(scenario_text(case, seed))
    env = {**os.environ, PASSWORD_ENV: secrets.token_urlsafe(12)}
    env.pop("XTALK_CLOCK_ZERO", None)
    env["XTALK_TREND_DB"] = str(root / "trend.sqlite")  # proof runs are not the user's trend
    serve, url = _start_serve(case, folder, seed, env)
    code: int | None = None
    try:
        if case.login_again:
            _register_accounts(url, case.users, env[PASSWORD_ENV])
        run_dir = folder / "run"
        cmd = [sys.executable, "-m", "xtalk", "run", str(scenario), "--host", url,
               "--out", str(run_dir), "--seed", str(seed),
               # The proof counts what the faults did to the load's users: a preflight user would be
               # the first connection a fault such as global_router latches onto, outside the history.
               "--no-preflight"]
        limit = case.run_time + 2 * case.deadline + 90
        with open(folder / "run.log", "wb") as log:
            try:
                code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                      stdin=subprocess.DEVNULL, timeout=limit).returncode
            except subprocess.TimeoutExpired:
                code = None
    finally:
        stop_process(serve)
    verdict_path = folder / "run" / "verdict.json"
    verdict = orjson.loads(verdict_path.read_bytes()) if verdict_path.exists() else None
    return judge(case, verdict, _read_jsonl(folder / "ground_truth.jsonl"),
                 _history_records(folder / "run", "error"), code,
                 _history_records(folder / "run", "probe"))


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={n}" for k, n in sorted(counts.items())) or "-"


def render_table(judgments: list[Judgment]) -> str:
    rows = [("fault", "rate", "acts", "expected kinds", "found (recall)", "also found (allowed)",
             "unexpected", "ok")]
    for j in judgments:
        if j.case.fault is None:
            label = "clean + every probe" if j.case.probes else "clean"
            rows.append((f"{label} ({j.case.users} users)", "-", "-", "no anomaly",
                         _kinds(j.found), "-", _kinds(j.unexpected), _ok(j)))
            continue
        wanted = {k for group in j.expected for k in group.split("|")}
        found = _kinds({k: n for k, n in j.found.items() if k in wanted})
        if j.witnessed is not None:
            what = "refused connections counted" if j.case.fault == "refuse_1008" else "login errors recorded"
            found = f"{j.witnessed} {what}"
        recall = f"{found} ({j.recall})" if j.expected else found
        expected = ", ".join(g.replace("|", " or ") for g in j.expected) or "(none)"
        if j.case.zero:  # counts the fault must not cost, e.g. requests lost track of
            expected += "; " + ", ".join(f"{path.removeprefix('anomalies.')}=0" for path in j.case.zero)
        rows.append((j.case.name, f"{j.case.rate:g}", str(j.acts), expected, recall,
                     _kinds(j.incidental), _kinds(j.unexpected), _ok(j)))
    widths = [max(len(r[i]) for r in rows) for i in range(7)]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:7])) + "  " + row[7]
                     for row in rows)


def _ok(j: Judgment) -> str:
    return "ok" if j.ok else "FAIL: " + "; ".join(j.notes)


def run(args: argparse.Namespace) -> int:
    cases = _cases(args)
    if args.parallel < 1:
        raise UsageError("--parallel >= 1", f"--parallel {args.parallel}", "pass --parallel 2")
    root = Path(args.out) if args.out else Path("reports") / time.strftime("selftest-%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    judgments: list[Judgment] = []
    if not args.skip_clean:
        clean = clean_case(args.clean_users, args.clean_run_time)
        print(f"xtalk selftest: clean run, {clean.users} users ...", flush=True)
        judgments.append(prove_safely(clean, root, args.seed))
    print(f"xtalk selftest: {len(cases)} faults, {args.parallel} at a time ...", flush=True)
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        judgments += list(pool.map(lambda c: prove_safely(c, root, args.seed), cases))
    table = render_table(judgments)
    print(table)
    elapsed = time.monotonic() - started
    failed = [j.case.name for j in judgments if not j.ok]
    summary = {
        "schema": "xtalk.selftest/1", "ok": not failed, "seconds": round(elapsed, 1),
        "cases": [{"case": j.case.name, "rate": j.case.rate, "engine": j.case.engine,
                   "acts": j.acts, "expected": list(j.expected), "found": j.found,
                   "unexpected": j.unexpected, "missing": list(j.missing), "verdict": j.verdict,
                   "exit_code": j.exit_code, "witnessed": j.witnessed, "zero": list(j.case.zero), "ok": j.ok,
                   "notes": j.notes} for j in judgments],
    }
    (root / "selftest.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    status = "green" if not failed else f"RED ({', '.join(failed)})"
    print(f"xtalk selftest: {status} in {elapsed:.0f} s; runs in {root}")
    return EXIT_PASS if not failed else EXIT_FAIL
