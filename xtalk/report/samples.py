"""Synthetic verdicts, shaped as the checker writes them: for tests, the benchmark and demos.

``clean``, ``failing``, ``inconclusive`` and ``huge`` build plausible verdict dicts (SPEC fields
plus the ARCHITECTURE additions, and the attribution issue's ``matrix.content``, ``incidents`` and
``incident_count``, which the checker core does not produce yet) from a seed, with no checker
involved; ``hostile`` plants markup and script in every string a server could control.
Deterministic: the same arguments give the same verdict.
"""

from __future__ import annotations

import random
from typing import Any

from xtalk.report.view import ANOMALY_KINDS, PHASES

PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def _user(n: int) -> str:
    return f"u{n:04d}"


def _explanation(kind: str, receiver: str, owner: str, line_r: int, line_e: int, t: float, run_id: str,
                 agent: str = "triage") -> str:
    return (f"{kind} #1\n"
            f"Let   R = start_agent sent by {owner} on {owner}-c1 at {t - 0.216:.3f} s (history line {line_r})\n"
            f"      E = tool_completed from agent {agent} received by {receiver} on {receiver}-c1 at {t:.3f} s "
            f"(history line {line_e})\n"
            f"Then  E carries run_id {run_id} and the marker minted for R,\n"
            f"      but it was delivered to {receiver}: a cross-user leak.\n"
            "Likely causes: a bridge or emitter shared between requests; routing by a stale connection slot.")


def _finding(kind: str, receiver: str, owner: str, t: float, line: int, engine: str = "legacy",
             agent: str = "triage", text: str = "Summarise the GPU spend") -> dict[str, Any]:
    run_id = f"run_ws_{line:06x}"
    send = {"kind": "send", "t": round(t - 0.216, 3), "user": owner, "conn": f"{owner}-c1", "req": f"{owner}-r3",
            "thread": f"thread_{owner}", "marker": "xtm-00112233445566aa",
            "frame": {"type": "start_agent", "payload": {"user_request": f"{text} xtm-00112233445566aa",
                                                         "thread_id": f"thread_{owner}"}}}
    recv = {"kind": "recv", "t": round(t, 3), "user": receiver, "conn": f"{receiver}-c1",
            "frame": {"type": "tool_completed", "run_id": run_id, "user_id": f"id-{owner}", "agent_name": agent,
                      "tool_name": "search", "results": {"echo": f"{text} xtm-00112233445566aa"}}}
    return {
        "kind": kind, "user": receiver, "owner": owner, "run_id": run_id, "witness": [line - 40, line],
        "explanation": _explanation(kind, receiver, owner, line - 40, line, t, run_id, agent),
        "t": round(t, 3), "conn": f"{receiver}-c1", "engine": engine, "req": f"{owner}-r3",
        "frames": [{"line": line - 40, "record": send}, {"line": line, "record": recv}],
    }


def _incident(finding: dict[str, Any], events: int) -> dict[str, Any]:
    """The incident a finding opens (one per leaked run or affected request)."""
    return {"kind": finding["kind"], "kinds": {finding["kind"]: events}, "owner": finding["owner"],
            "receiver": finding["user"], "run_id": finding["run_id"], "req": finding["req"],
            "engine": finding["engine"], "events": events, "t": finding["t"],
            "first_witness": list(finding["witness"])}


def _latency(rng: random.Random, duration: float, points: int) -> dict[str, Any]:
    samples: list[tuple[float, str, float]] = []
    for _ in range(points):
        t = rng.uniform(0, duration)
        phase = rng.choice(PHASES)
        scale = {"agent_started": 0.08, "agent_thinking": 0.3, "agent_completed": 1.0 + 0.6 * (t / duration)}[phase]
        samples.append((round(t, 3), phase, round(rng.lognormvariate(0, 0.35) * scale, 4)))
    samples.sort()
    phases = {}
    for phase in PHASES:
        values = sorted(s for _, p, s in samples if p == phase) or [0.0]

        def pick(q: int) -> float:
            return values[min(len(values) - 1, int(q / 100 * len(values)))]

        phases[phase] = {"n": len(values), "p50": pick(50), "p95": pick(95), "p99": pick(99)}
    return {"phases": phases, "series": [list(s) for s in samples]}


def base(users: int = 20, *, seed: int = 7, duration: float = 30.0, series_points: int = 600,
         run_id: str = "20250918T020000-clean", scenario: str = "nightly_isolation") -> dict[str, Any]:
    """A clean run's verdict."""
    rng = random.Random(seed)
    names = [_user(i + 1) for i in range(users)]
    sent = users * 12
    return {
        "schema": "xtalk.verdict/1",
        "verdict": "pass",
        "anomalies": {kind: 0 for kind in ANOMALY_KINDS},
        "anomaly_limits": {kind: 0 for kind in ANOMALY_KINDS},
        "requests": {"sent": sent, "completed": sent - 2, "unknown": 2, "failed": 0, "dropped": 0},
        "users": users,
        "events": sent * 7,
        "thresholds": [
            {"name": "latency.agent_completed.p95", "limit": 5.0, "observed": 1.9, "ok": True},
            {"name": "completion_ratio", "limit": 0.99, "observed": 1.0, "ok": True},
        ],
        "findings": [],
        "reasons": [],
        "inconclusive": None,
        "coverage": {"users": users, "connections": users, "overlapping_user_pairs": users * (users - 1) // 2,
                     "max_concurrent_requests": users, "engines": ["main", "isolated"]},
        "client_errors": {},
        "broken_assumptions": [],
        "matrix": {"users": names, "cells": [[u, u, 84] for u in names], "content": []},
        "incidents": [],
        "incident_count": 0,
        "latency": _latency(rng, duration, series_points),
        "engines": {
            "main": {"requests": sent // 2, "completed": sent // 2 - 1, "failed": 0, "unknown": 1, "anomalies": 0,
                     "p95_completed": 1.8},
            "isolated": {"requests": sent // 2, "completed": sent // 2 - 1, "failed": 0, "unknown": 1,
                         "anomalies": 0, "p95_completed": 2.0},
        },
        "unknowns": [{"req": f"{names[0]}-r12", "user": names[0], "reason": "in flight at the end of the drain"},
                     {"req": f"{names[-1]}-r12", "user": names[-1], "reason": "connection closed by the harness"}],
        "finding_groups": [],
        "swimlanes": {},
        "run": {"id": run_id, "scenario": scenario, "started_at": "2025-09-18T02:00:00+00:00",
                "duration": duration, "seed": seed, "host": None, "profile": "netra", "workers": 1},
        "recheck": f"xtalk check reports/{run_id}/history.jsonl --scenario scenarios/{scenario}.toml",
    }


clean = base


def failing(users: int = 20, *, seed: int = 7, leaks: int = 3, run_id: str = "20250919T020000-fail"
            ) -> dict[str, Any]:
    """A run of the ``legacy`` engine path that leaked events between users, and dropped one."""
    verdict = base(users, seed=seed, run_id=run_id)
    rng = random.Random(seed + 1)
    names = verdict["matrix"]["users"]
    findings = []
    for k in range(leaks):
        owner, receiver = rng.sample(names, 2)
        findings.append(_finding("cross_user_event", receiver, owner, 8.0 + 3.1 * k, 1200 + 97 * k))
        verdict["matrix"]["cells"].append([owner, receiver, 1 + k])
    # The last leak also carried its owner's content: a content cell of the matrix.
    last = findings[-1]
    verdict["matrix"]["content"].append([last["owner"], last["user"], 1])
    incidents = [_incident(f, 1 + k) for k, f in enumerate(findings)]
    incidents[-1]["kinds"]["cross_user_content"] = 1
    dropped = _finding("dropped_response", names[3], names[3], 21.4, 5120, engine="legacy")
    dropped["explanation"] = (f"dropped_response #1\nLet   R = start_agent sent by {names[3]} at 21.400 s "
                              "(history line 5080)\nThen  no agent_completed arrived within the 30 s deadline and "
                              "the drain, while the connection stayed open.")
    findings.append(dropped)
    incidents.append(_incident(dropped, 1))
    incidents.sort(key=lambda i: i["t"])
    verdict.update({
        "verdict": "fail",
        "findings": findings,
        "incidents": incidents,
        "incident_count": len(incidents),
        "reasons": [f"cross_user_event: {leaks} event(s) delivered to another user", "dropped_response: 1"],
        "finding_groups": [{"kind": "cross_user_event", "count": leaks, "shown": leaks},
                           {"kind": "dropped_response", "count": 1, "shown": 1}],
    })
    verdict["anomalies"].update({"cross_user_event": leaks, "dropped_response": 1})
    verdict["requests"].update({"failed": 1, "dropped": 1, "completed": verdict["requests"]["completed"] - 1})
    verdict["thresholds"][0].update({"observed": 6.2, "ok": False})
    verdict["engines"]["legacy"] = {"requests": 40, "completed": 36, "failed": 1, "unknown": 0,
                                    "anomalies": leaks + 1, "p95_completed": 6.2}
    verdict["coverage"]["engines"] = ["main", "isolated", "legacy"]
    lanes: dict[str, list[list[Any]]] = {}
    for finding in findings:
        for who in (finding["user"], finding["owner"]):
            lane = lanes.setdefault(who, [])
            if not lane:
                for i in range(40):
                    lane.append([round(0.6 * i + rng.random() * 0.3, 3), "agent_thinking", who, f"run_{who}_{i}",
                                 100 + i])
        lanes[finding["user"]].append([finding["t"], "tool_completed", finding["owner"], finding["run_id"],
                                       finding["witness"][-1]])
    verdict["swimlanes"] = lanes
    return verdict


def inconclusive() -> dict[str, Any]:
    """A run in which no request completed: it could not have shown a leak."""
    verdict = base(4, run_id="20250920T020000-inc")
    verdict.update({
        "verdict": "inconclusive",
        "requests": {"sent": 4, "completed": 0, "unknown": 4, "failed": 0, "dropped": 0},
        "events": 0,
        "reasons": [],
        "inconclusive": {"reason": "no request completed, so no two users were ever seen in flight together",
                         "advice": "check that the host answers start_agent; raise --run-time or the deadline"},
        "latency": {"phases": {}, "series": []},
        "matrix": {"users": verdict["matrix"]["users"], "cells": []},
    })
    verdict["coverage"].update({"overlapping_user_pairs": 0, "max_concurrent_requests": 4})
    return verdict


def huge(users: int = 5_000, events: int = 1_000_000, *, findings: int = 1_000, seed: int = 11) -> dict[str, Any]:
    """A run of ``events`` events: thousands of users, capped findings, a sampled latency series."""
    verdict = base(users, seed=seed, duration=600.0, series_points=5_000, run_id="20250921T020000-huge")
    rng = random.Random(seed)
    names = verdict["matrix"]["users"]
    per_user = events // users
    verdict["matrix"]["cells"] = [[u, u, per_user] for u in names]
    leaks_total = findings * 3
    shown = []
    for k in range(findings):
        owner, receiver = rng.sample(names[:400], 2)
        shown.append(_finding("cross_user_event", receiver, owner, rng.uniform(5, 595), 1000 + k * 900))
        verdict["matrix"]["cells"].append([owner, receiver, 3])
    shown.sort(key=lambda f: f["t"])
    verdict["matrix"]["content"] = [[f["owner"], f["user"], 1] for f in shown[::10]]
    verdict["incidents"] = [_incident(f, 3) for f in shown[:500]]
    verdict["incident_count"] = findings  # more than the 500 listed: the count stays exact
    lanes: dict[str, list[list[Any]]] = {}
    for finding in shown[:30]:
        lane = lanes.setdefault(finding["user"], [[round(i * 2.0, 3), "agent_thinking", finding["user"], f"r{i}",
                                                   i] for i in range(280)])
        lane.append([finding["t"], "tool_completed", finding["owner"], finding["run_id"], finding["witness"][-1]])
    verdict.update({
        "verdict": "fail", "users": users, "events": events, "findings": shown,
        "finding_groups": [{"kind": "cross_user_event", "count": leaks_total, "shown": findings}],
        "swimlanes": lanes,
        "reasons": [f"cross_user_event: {leaks_total}"],
        "unknowns": [{"req": f"{u}-r9", "user": u, "reason": "in flight at the end of the drain"} for u in names[:300]],
    })
    verdict["requests"] = {"sent": events // 7, "completed": events // 7 - 300, "unknown": 300, "failed": 0,
                           "dropped": 0}
    verdict["anomalies"]["cross_user_event"] = leaks_total
    return verdict


def hostile(payload: str = PAYLOAD) -> dict[str, Any]:
    """A failing verdict with ``payload`` in every server-controlled string."""
    verdict = failing(6, leaks=2, run_id=f"run-{payload}")
    evil_user = f"u{payload}"
    verdict["matrix"]["users"].append(evil_user)
    verdict["matrix"]["cells"].append([evil_user, "u0001", 2])
    verdict["matrix"]["cells"].append([evil_user, evil_user, 4])
    first = _finding("cross_user_content", "u0001", evil_user, 9.9, 777, engine=f"legacy{payload}",
                     agent=f"agent{payload}", text=payload)
    first["explanation"] += f"\nThe frame said: {payload}"
    verdict["findings"].insert(0, first)
    verdict["matrix"]["content"].append([evil_user, "u0001", 1])
    evil = _incident(first, 2)
    evil["kinds"] = {"cross_user_content": 1, f"kind{payload}": 1}
    verdict["incidents"].insert(0, evil)
    verdict["incident_count"] += 1
    verdict["anomalies"]["cross_user_content"] = 1
    verdict["anomalies"][f"kind{payload}"] = 1
    verdict["reasons"].append(f"server said {payload}")
    verdict["thresholds"].append({"name": f"t{payload}", "limit": payload, "observed": payload, "ok": False})
    verdict["unknowns"].append({"req": payload, "user": evil_user, "reason": payload})
    verdict["swimlanes"][evil_user] = [[1.0, f"type{payload}", evil_user, payload, 3],
                                       [2.0, "agent_started", "u0001", payload, 4]]
    verdict["engines"][f"engine{payload}"] = {"requests": 1, "anomalies": {"x": 1}}
    verdict["run"].update({"scenario": f"nightly{payload}", "host": f"http://user:secret@h/{payload}"})
    verdict["recheck"] = f"xtalk check {payload}"
    verdict["coverage"]["engines"] = [payload]
    verdict["latency"]["series"].append([3.0, f"phase{payload}", 0.5])
    verdict["finding_groups"].append({"kind": payload, "count": 1, "shown": 1})
    return verdict
