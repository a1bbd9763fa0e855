"""How far one Locust worker goes, and what recording and live checking cost it (issues 7, 11).

    python benchmarks/bench_scale.py                  # the whole table, ~8 minutes on 2 cores
    python benchmarks/bench_scale.py --quick          # smaller: 300 sessions, 1,500 at most
    python benchmarks/bench_scale.py --only ab --baseline /tmp/old   # old vs new in one run

Measured side by side in one run, every process on 127.0.0.1 and bounded in time:

(a) events/s of one worker at ``--sessions`` (1,000) concurrent sessions: xtalk's full path (a
    headless Locust process running ``XtalkUser``: session client, recorder, live checker, Locust
    statistics), the same with live checking off (``XTALK_LIVE=0``) and with the live checker
    in the worker's own loop (``XTALK_LIVE=inline``; the default runs it in a side process that
    tails the history), and the bare receive loop of the same client library
    (``xtalk.client.wsconn.WsConnection`` on gevent, one reader greenlet per connection,
    ``orjson.loads`` per event, the next request sent from the reader: no recorder, no checker,
    no Locust). Events per client CPU-second (wall events/s beside it); a side process's CPU is
    shown apart and the ratio is given both ways (the worker's loop alone, and worker + side).
    Goals (issue 11): recording alone / bare >= 0.7, full path / bare >= 0.5. Beside them, not
    a goal: the read-pump loop that also writes its history through xtalk's ``Recorder`` (a
    ``send`` record per request, a ``recv`` record per event) and does nothing else of xtalk's,
    over the bare loop: the most that "recording alone" could reach if Locust, the session and
    the request tracker cost nothing; and what Locust alone costs per request (users that are
    woken by another greenlet and fire xtalk's three request events, nothing else), in
    microseconds an event at ``--events`` events a request, beside what 0.7 leaves for it.
(b) the most concurrent sessions one worker holds (``--max-sessions``, 5,000) with the full path,
    and memory per session: the difference of the worker's resident memory at the start of the
    load between that run and run (a), divided by the difference in sessions (so the Locust
    process's own baseline cancels). Goal: <= 25 KB (issue 11).
(c) one worker against two (a local master and K workers, ``--sessions`` users in total), as
    events per worker CPU-second: this machine has 2 cores shared with the server, so wall-clock
    scaling says little. Goal: two / one >= 0.85.
(d) the reference backend (``xtalk serve``, engine main, zero delays) loaded by the full path:
    its events/s and its CPU share, against the worker's. Is it the bottleneck?

(a)-(c) run against a **firehose**: a Netra-compatible server in its own process (HTTP for
``/api/threads``, a WebSocket handshake with the ``jwt-auth`` subprotocol, a welcome, and for
every request one whole clean run of ``--events`` events in one write) that costs a few
microseconds per event. On two cores shared by server and clients, a server that spends less
CPU per event leaves the client its core: the bare loop would otherwise measure the server. The
firehose's runs are clean by the checker's rules (its histories check as pass), so the live
checker does its normal work. (d) measures how the reference backend compares.

Times come from the history (``load`` start/stop records, ``recv`` records between them); CPU
and memory from psutil samples of each client process (and its children) every 0.2 s, on the
same clock. ``--baseline TREE`` runs the Locust cases of (a) and (b) a second time with another
checkout's xtalk (``PYTHONPATH=TREE``, its locustfile; its own ``XTALK_LIVE`` default), against
the same firehose and bare loop, so old and new are compared in one run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
JWT_ENV = "XTALK_BENCH_JWT_SECRET"


def raise_fd_limit() -> int:
    """Raise the soft fd limit to the hard one (each session is one socket on each side)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- the firehose server (child process) -----------------------------------------------------------

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MARKER = re.compile(rb"xtm-[0-9a-f]{16}")


def ws_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def sub_of(token: str) -> str:
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return str(claims.get("sub") or "anonymous")
    except (IndexError, ValueError):
        return "anonymous"


def run_burst(sub: str, request: bytes, run: str, events: int) -> bytes:
    """One whole clean run, emitter family (flat, ``critical``), as one buffer of frames."""
    import orjson

    try:
        payload = orjson.loads(request).get("payload") or {}
    except (orjson.JSONDecodeError, AttributeError):
        payload = {}
    thread = payload.get("thread_id")
    found = MARKER.search(request)
    marker = found.group().decode() if found else ""
    base = {"critical": True, "user_id": sub, "thread_id": thread, "run_id": run, "request_id": f"ws_req_{run}"}
    out = [orjson.dumps({"type": "agent_started", **base, "agent_name": "supervisor",
                         "task_description": "answer the request"})]
    for step in range(max(0, events - 4)):
        out.append(orjson.dumps({"type": "agent_thinking", **base, "agent_name": "supervisor",
                                 "reasoning": f"step {step}: looking at the spend tables"}))
    execution = f"exec_{run}"
    out.append(orjson.dumps({"type": "tool_executing", **base, "agent_name": "supervisor", "tool_name": "search",
                             "parameters": {"q": marker}, "execution_id": execution}))
    out.append(orjson.dumps({"type": "tool_completed", **base, "agent_name": "supervisor", "tool_name": "search",
                             "results": {"rows": 3}, "duration": 0.01, "success": True, "execution_id": execution}))
    out.append(orjson.dumps({"type": "agent_completed", **base, "agent_name": "supervisor", "status": "completed",
                             "final_response": f"Done: {marker}"}))
    return b"".join(ws_frame(x) for x in out)


def serve_firehose(port_file: str, lifetime: float, events: int) -> None:
    import asyncio
    import itertools
    import secrets

    import orjson

    raise_fd_limit()
    threads = itertools.count(1)

    def unmask(data: bytes, mask: bytes) -> bytes:
        n = len(data)
        key = (mask * (n // 4 + 1))[:n]
        return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")

    async def websocket(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]) -> None:
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        extra = b"Sec-WebSocket-Protocol: jwt-auth\r\n" if "jwt-auth" in offered else b""
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n" + extra + b"\r\n")
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else next((p[4:] for p in offered if p.startswith("jwt.")), "")
        sub = sub_of(token)
        conn = secrets.token_hex(4)
        writer.write(ws_frame(orjson.dumps({"type": "connection_established",
                                            "data": {"mode": "main", "user_id": sub, "connection_id": conn}})))
        n = 0
        while True:
            b0, b1 = await reader.readexactly(2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                length = int.from_bytes(await reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await reader.readexactly(8), "big")
            mask = await reader.readexactly(4) if b1 & 0x80 else b""
            data = await reader.readexactly(length) if length else b""
            if mask and data:
                data = unmask(data, mask)
            if opcode == 0x8:
                writer.write(b"\x88" + bytes((len(data[:2]),)) + data[:2])
                await writer.drain()
                return
            if opcode == 0x9:
                writer.write(b"\x8a" + bytes((len(data),)) + data)
            elif opcode == 0x1:
                n += 1
                writer.write(run_burst(sub, data, f"run_{conn}_{n}", events))
            await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path = head[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in head[1:] if ":" in x)}
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                if path.startswith("/ws"):
                    await websocket(reader, writer, headers)
                    return
                body = b'{"id":"thread_%d"}' % next(threads) if method == "POST" else b'{"ok":true}'
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError, ValueError, KeyError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096, limit=2**20)
        port = server.sockets[0].getsockname()[1]
        Path(port_file + ".tmp").write_text(str(port))
        os.replace(port_file + ".tmp", port_file)
        await asyncio.sleep(lifetime)

    asyncio.run(main())


# ---- the bare receive loop (child process) ---------------------------------------------------------


def bare_client(url: str, sessions: int, window: float, out: str, pump: bool = False,
                record: str | None = None) -> None:
    """``record``: also write a history there with xtalk's own ``Recorder`` (a ``send`` record per
    request, a ``recv`` record per event), and nothing else of xtalk's (no Locust, session, tracker):
    what recording's own work costs the receive loop, the floor under 'recording alone'."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import jwt
    import orjson
    import psutil

    from xtalk.client.session import new_marker
    from xtalk.client.wsconn import WsConnection

    def request_frame(text: str) -> dict[str, Any]:  # the netra profile's start_agent frame
        return {"type": "start_agent", "payload": {"user_request": text, "thread_id": None,
                                                   "context": {"source": "message_input"}, "settings": {}}}

    raise_fd_limit()
    from xtalk.client.pump import ReadPump

    reader = ReadPump() if pump else None
    recorder = None
    if record is not None:
        from xtalk.client.recorder import Recorder

        recorder = Recorder(record, install_handlers=False)
    count = [0]
    opened = [0]
    conns: list[WsConnection] = []

    def one(i: int) -> None:
        token = jwt.encode({"sub": f"bare-{i:05d}"}, "bench-secret-of-thirty-two-bytes!", algorithm="HS256")

        user, conn = f"bare-{i:05d}", f"bare-{i:05d}-c1"
        sent = [0]

        def next_request() -> None:
            marker = new_marker()
            frame = request_frame(f"bench request {marker}")
            if recorder is not None:
                sent[0] += 1
                recorder.send(user, conn, f"{user}-r{sent[0]}", None, marker, frame)
            ws.send_text(orjson.dumps(frame))

        def on_message(data: bytes, binary: bool) -> None:
            frame = orjson.loads(data)
            if recorder is not None:
                recorder.recv_text(user, conn, data, frame)
            count[0] += 1
            if frame.get("type") == "agent_completed":
                next_request()

        ws = WsConnection("ws" + url[4:] + "/ws", subprotocols=["jwt-auth", f"jwt.{token}"],
                          headers={"Authorization": f"Bearer {token}"}, on_message=on_message)
        ws.open(timeout=60.0)
        conns.append(ws)
        opened[0] += 1
        if reader is not None:
            reader.add(ws)
        else:
            gevent.spawn(ws.read_loop, gevent.sleep)  # one reader greenlet per connection: the classic loop

    greenlets = [gevent.spawn(one, i) for i in range(sessions)]
    gevent.joinall(greenlets, timeout=120)
    for ws in conns:  # the gate opens: every session starts at once
        ws.send_text(orjson.dumps(request_frame(f"bench request {new_marker()}")))  # (not recorded: warm-up)
    gevent.sleep(1.0)  # warm-up
    me = psutil.Process()
    c0, n0, t0 = sum(me.cpu_times()[:2]), count[0], time.monotonic()
    gevent.sleep(window)
    c1, n1, t1 = sum(me.cpu_times()[:2]), count[0], time.monotonic()
    Path(out).write_text(json.dumps({"sessions": opened[0], "events": n1 - n0, "seconds": t1 - t0,
                                     "cpu": c1 - c0, "rss": me.memory_info().rss}))
    os._exit(0)


# ---- the parent: processes, samples, histories ---------------------------------------------------


@dataclass
class Sampler:
    """CPU seconds and RSS of some processes every 0.2 s, on the run's clock (monotonic - zero),
    and apart from them the CPU seconds and RSS of their child processes (the side process that
    checks live): a worker's cost is its own CPU plus its side process's."""

    pids: list[int]
    zero: float
    samples: dict[int, list[tuple[float, float, int, float, int]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        import psutil

        self._procs = {pid: psutil.Process(pid) for pid in self.pids}
        self._children: dict[int, dict[int, Any]] = {pid: {} for pid in self.pids}
        self._child_cpu: dict[int, dict[int, float]] = {pid: {} for pid in self.pids}
        self.samples = {pid: [] for pid in self.pids}
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _side(self, pid: int, proc: Any) -> tuple[float, int]:
        """CPU seconds (ever, ended children included) and RSS (now) of ``proc``'s children."""
        known, cpu = self._children[pid], self._child_cpu[pid]
        rss = 0
        try:
            for child in proc.children(recursive=True):
                known.setdefault(child.pid, child)
        except Exception:
            pass
        for cpid, child in list(known.items()):
            try:
                times = child.cpu_times()
                cpu[cpid] = times.user + times.system
                rss += child.memory_info().rss
            except Exception:
                known.pop(cpid, None)  # gone: its last CPU figure stays in ``cpu``
        return sum(cpu.values()), rss

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid, proc in self._procs.items():
                try:
                    times = proc.cpu_times()
                    side_cpu, side_rss = self._side(pid, proc)
                    self.samples[pid].append((time.monotonic() - self.zero, times.user + times.system,
                                              proc.memory_info().rss, side_cpu, side_rss))
                except Exception:
                    pass
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, pid: int, t: float, column: int = 1) -> float:
        """Column ``column`` of ``pid``'s samples at run time ``t`` (linear between samples):
        1 CPU seconds, 2 RSS, 3 the children's CPU seconds, 4 their RSS."""
        rows = self.samples[pid]
        if not rows:
            return 0.0
        before = [r for r in rows if r[0] <= t] or rows[:1]
        after = [r for r in rows if r[0] >= t] or rows[-1:]
        a, b = before[-1], after[0]
        if b[0] == a[0]:
            return float(a[column])
        w = (t - a[0]) / (b[0] - a[0])
        return a[column] + w * (b[column] - a[column])

    def peak_rss(self, pid: int) -> int:
        return max((r[2] for r in self.samples[pid]), default=0)


def scenario_toml(name: str, users: int, run_time: float, spawn_rate: float, auth: str) -> str:
    return f"""
[run]
name = "{name}"
users = {users}
spawn_rate = {spawn_rate}
run_time = "{run_time}s"
seed = 1
connect_timeout = "60s"
[check]
deadline = "30s"
drain = "10s"
{auth}
[[journey]]
name = "firehose"
think_time = ["0s", "0s"]
  [[journey.step]]
  kind = "start_agent"
  prompt = "Summarise the spend for {{user}}, request {{n}}"
"""


@dataclass
class Shard:
    events: int
    start: float
    stop: float
    connections: int


def read_shard(path: Path) -> Shard:
    """recv records between the load's start and stop records of one history."""
    import orjson

    start = stop = None
    connections = 0
    times: list[float] = []
    with open(path, "rb") as handle:
        for line in handle:
            if line.startswith(b'{"kind":"recv"'):
                end = line.find(b',"user"')
                times.append(float(line[19:end]))  # '{"kind":"recv","t":' is 19 bytes
                continue
            if b'"kind":"load"' in line[:20]:
                record = orjson.loads(line)
                if record.get("state") == "start":
                    start, connections = float(record["t"]), int(record.get("connections") or 0)
                elif record.get("state") == "stop":
                    stop = float(record["t"])
    if start is None or stop is None:
        raise RuntimeError(f"{path}: no load start/stop records")
    return Shard(sum(1 for t in times if start <= t <= stop), start, stop, connections)


@dataclass
class Result:
    events: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    sessions: int = 0
    rss_start: int = 0
    rss_peak: int = 0
    workers: int = 1
    server_cpu: float = 0.0
    side_cpu: float = 0.0  # the workers' side processes (live checking), over the same window
    side_rss: int = 0
    note: str = ""

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def per_cpu(self) -> float:
        return self.events / self.cpu if self.cpu else 0.0

    @property
    def per_all_cpu(self) -> float:
        """Events per CPU-second of the workers and their side processes together."""
        return self.events / (self.cpu + self.side_cpu) if self.cpu + self.side_cpu else 0.0


def locust_run(url: str, sessions: int, *, workers: int, live: str, window: float, spawn_rate: float,
               server_pid: int | None, work: Path, label: str, mint: bool = True, tree: Path | None = None) -> Result:
    """xtalk's full path on Locust: standalone (workers=0) or a local master and K workers.
    ``live`` is ``XTALK_LIVE`` (``0``, ``1``, ``inline``); ``tree`` runs another checkout's xtalk
    (its ``PYTHONPATH`` and locustfile), for old and new side by side."""
    from xtalk.runner.locust_proc import LOCUSTFILE, LocustPlan, free_port, master_command, worker_command

    run_dir = work / label
    run_dir.mkdir(parents=True)
    scenario = run_dir / "scenario.toml"
    # The firehose takes any token (minted locally: no login round trip); the reference backend
    # checks its own, so its users register.
    auth = (f'[auth]\nstrategy = "mint_jwt"\njwt_secret_env = "{JWT_ENV}"' if mint
            else '[auth]\nstrategy = "register"')
    scenario.write_text(scenario_toml(label, sessions, window, spawn_rate, auth))
    zero = time.monotonic()
    env = {**os.environ, "XTALK_SCENARIO": str(scenario), "XTALK_OUT": str(run_dir), "XTALK_RUN_ID": label,
           "XTALK_CLOCK_ZERO": repr(zero), "XTALK_SEED": "1", "XTALK_WORKERS": str(workers),
           "XTALK_LIVE": live, JWT_ENV: "bench-secret-not-a-real-one", "PYTHONWARNINGS": "ignore"}
    # Which xtalk runs is explicit: this checkout's, or ``tree``'s (first on the path; the
    # processes start in the run folder, since ``python -m`` puts the working directory first).
    tree = tree or ROOT
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])
    locustfile = str(tree / "xtalk" / "client" / "locustfile.py")
    budget = 60 + sessions / spawn_rate + window + 40
    plan = LocustPlan(host=url, users=sessions, spawn_rate=spawn_rate, safety_time=budget, run_dir=run_dir,
                      workers=workers, master_port=free_port() if workers else 0)

    def command(cmd: list[str]) -> list[str]:
        return [locustfile if part == str(LOCUSTFILE) else part for part in cmd]

    log = open(run_dir / "locust.log", "wb")
    procs = [subprocess.Popen(command(master_command(plan)), env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True, cwd=run_dir)]
    procs += [subprocess.Popen(command(worker_command(plan)), env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, cwd=run_dir)
              for _ in range(workers)]
    load_pids = [p.pid for p in (procs[1:] if workers else procs)]
    sampler = Sampler(load_pids + ([server_pid] if server_pid else []), zero)
    try:
        procs[0].wait(timeout=budget + 60)
        for proc in procs[1:]:
            proc.wait(timeout=30)
    finally:
        sampler.stop()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log.close()
    shards = sorted(run_dir.glob("history*.jsonl"))
    result = Result(workers=max(1, workers))
    for path in shards:
        shard = read_shard(path)
        result.events += shard.events
        result.sessions += shard.connections
        result.seconds = max(result.seconds, shard.stop - shard.start)
    # Each worker's CPU over its own load window (its shard's start/stop), summed; its side
    # process's apart.
    for path, pid in zip(shards, load_pids):
        shard = read_shard(path)
        result.cpu += sampler.at(pid, shard.stop) - sampler.at(pid, shard.start)
        result.side_cpu += sampler.at(pid, shard.stop, 3) - sampler.at(pid, shard.start, 3)
        result.rss_start += int(sampler.at(pid, shard.start, 2))
        result.rss_peak += sampler.peak_rss(pid)
        result.side_rss += int(sampler.at(pid, shard.start, 4))
    if server_pid and shards:
        first = read_shard(shards[0])
        result.server_cpu = sampler.at(server_pid, first.stop) - sampler.at(server_pid, first.start)
    return result


def bare_run(url: str, sessions: int, window: float, work: Path, pump: bool = False, record: bool = False) -> Result:
    name = "bare" + ("-pump" if pump else "") + ("-record" if record else "")
    out = work / f"{name}.json"
    extra = [*(["--pump"] if pump else []), *(["--record", str(work / f"{name}.jsonl")] if record else [])]
    proc = subprocess.Popen([sys.executable, str(HERE), "--bare", url, "--sessions", str(sessions),
                             "--window", str(window), "--result", str(out), *extra],
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=180 + window)
    except subprocess.TimeoutExpired:
        proc.kill()
    proc.wait()
    data = json.loads(out.read_text())
    return Result(events=data["events"], seconds=data["seconds"], cpu=data["cpu"], sessions=data["sessions"],
                  rss_start=data["rss"], rss_peak=data["rss"])


FLOOR_LOCUSTFILE = """
# Written by benchmarks/bench_scale.py: Locust's own cost per request, nothing of xtalk's.
import json, os, resource, time
import gevent
from gevent.event import Event
from locust import User, constant, events, task

COUNT = [0]


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Floor(User):
    wait_time = constant(0)

    @task
    def requests(self):
        fire, wake = self.environment.events.request.fire, gevent.get_hub().loop.run_callback
        while True:  # as xtalk's journey: many requests in one task
            answered = Event()
            wake(answered.set)  # another greenlet wakes the user, as the read pump does
            answered.wait(5)
            for name in ("agent_started", "agent_thinking", "agent_completed"):
                fire(request_type="WS", name=name, response_time=1.0, response_length=0, exception=None,
                     context={})
            COUNT[0] += 1


@events.spawning_complete.add_listener
def _measure(user_count, **kw):
    def window():
        gevent.sleep(1.0)  # warm-up
        c0, n0, t0 = _cpu(), COUNT[0], time.monotonic()
        gevent.sleep(float(os.environ["FLOOR_WINDOW"]))
        c1, n1, t1 = _cpu(), COUNT[0], time.monotonic()
        with open(os.environ["FLOOR_OUT"], "w") as out:
            json.dump({"requests": n1 - n0, "cpu": c1 - c0, "seconds": t1 - t0, "users": user_count}, out)
    gevent.spawn(window)
"""


def locust_floor(sessions: int, window: float, work: Path, events_per_request: int) -> Result:
    """Locust's own cost per request, nothing of xtalk's: ``sessions`` users, each in one task
    that waits to be woken by another greenlet (as the read pump wakes xtalk's user) and fires
    the three request events xtalk fires per request (``agent_started``, ``agent_thinking``,
    ``agent_completed``). Counted as ``events_per_request`` events a request, so that it reads
    on the same scale as the bare loop."""
    locustfile, out = work / "floor_locustfile.py", work / "floor.json"
    locustfile.write_text(FLOOR_LOCUSTFILE)
    env = {**os.environ, "FLOOR_OUT": str(out), "FLOOR_WINDOW": repr(window), "PYTHONWARNINGS": "ignore"}
    budget = sessions / 1000 + window + 10
    subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(sessions),
                    "-r", str(sessions), "-t", f"{budget:.0f}s", "--only-summary", "--loglevel", "WARNING",
                    "--host", "http://127.0.0.1:9"], env=env, cwd=work, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=budget + 60, check=False)
    data = json.loads(out.read_text())
    return Result(events=data["requests"] * events_per_request, seconds=data["seconds"], cpu=data["cpu"],
                  sessions=data["users"])


class Server:
    """A child server process (firehose or the reference backend) on a free loopback port."""

    def __init__(self, cmd: list[str], ready: Path, parse: Any) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {' '.join(cmd[:4])}")
            time.sleep(0.05)
        time.sleep(0.1)
        self.url = parse(ready.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def kb(n: float) -> str:
    return f"{n / 1024:,.1f} KB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--max-sessions", type=int, default=5000)
    parser.add_argument("--window", type=float, default=8.0, help="seconds of load measured per case")
    parser.add_argument("--events", type=int, default=20, help="events per request from the firehose")
    parser.add_argument("--quick", action="store_true", help="300 sessions, 1,500 at most, 5 s windows")
    parser.add_argument("--only", default="abcd", help="which parts to run, e.g. ab")
    parser.add_argument("--keep", action="store_true", help="keep the histories and Locust logs")
    parser.add_argument("--baseline", type=Path, metavar="TREE",
                        help="also run (a) and (b) with the xtalk of this checkout or worktree (old vs new, one run)")
    # child modes
    parser.add_argument("--serve", metavar="PORT_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=600.0, help=argparse.SUPPRESS)
    parser.add_argument("--bare", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--pump", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--record", metavar="HISTORY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_firehose(args.serve, args.lifetime, args.events)
        return 0
    if args.bare:
        bare_client(args.bare, args.sessions, args.window, args.result, args.pump, args.record)
        return 0
    if args.quick:
        args.sessions, args.max_sessions, args.window = 300, 1500, 5.0
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "xtalk" / "client" / "locustfile.py").is_file():
            parser.error(f"expected a checkout of xtalk but got --baseline={args.baseline}; "
                         "pass the root of a git worktree (e.g. git worktree add /tmp/old main)")

    limit = raise_fd_limit()
    print(f"fd limit {limit}; {os.cpu_count()} cores; firehose runs of {args.events} events per request; "
          f"{args.window:g} s measured per case", flush=True)
    work = Path(tempfile.mkdtemp(prefix="xtalk-bench-scale-"))
    results: dict[str, Result] = {}
    firehose = Server([sys.executable, str(HERE), "--serve", str(work / "port"), "--lifetime", "900",
                       "--events", str(args.events)], work / "port", lambda text: f"http://127.0.0.1:{int(text)}")
    def case(key: str, label: str, measure: Any) -> None:
        """One measurement; a failure is printed and the table goes on without it."""
        try:
            results[key] = measure()
            r = results[key]
            print(f"  {label}: {r.sessions:,} sessions, {r.per_s:,.0f} events/s", flush=True)
        except Exception as error:
            print(f"  {label}: FAILED: {type(error).__name__}: {error}", flush=True)

    n = args.sessions
    base = args.baseline
    old = f"old ({base.name})" if base else ""

    def run(key: str, label: str, sessions: int, live: str, tree: Path | None = None, spawn_rate: float = 250,
            workers: int = 0) -> None:
        case(key, label, lambda: locust_run(url, sessions, workers=workers, live=live, window=args.window,
                                            spawn_rate=spawn_rate, server_pid=fpid, work=work, label=key, tree=tree))

    try:
        url, fpid = firehose.url, firehose.proc.pid
        if "a" in args.only or "b" in args.only:
            case("bare", "bare loop", lambda: bare_run(url, n, args.window, work))
            case("bare_pump", "bare loop, read pump", lambda: bare_run(url, n, args.window, work, pump=True))
            case("bare_record", "bare loop + Recorder",
                 lambda: bare_run(url, n, args.window, work, pump=True, record=True))
            case("locust_floor", "Locust alone", lambda: locust_floor(n, args.window, work, args.events))
            run("record", "recording only", n, "0")
            run("full", "full path", n, "1")
            run("inline", "full path, XTALK_LIVE=inline", n, "inline")
            if base:
                run("old_record", f"{old} recording only", n, "0", base)
                run("old_full", f"{old} full path", n, "1", base)
            # The bare loop again, last: the machine's other load varies, and the ratios are
            # taken against the better of the two (the harder denominator).
            case("bare2", "bare loop, again", lambda: bare_run(url, n, args.window, work))
            if "bare2" in results:
                again = results.pop("bare2")
                first = results.get("bare")
                if first is None or again.per_cpu > first.per_cpu:
                    results["bare"], again = again, first  # type: ignore[assignment]
                if again is not None:
                    results["bare_first"] = again
        if "b" in args.only:
            # 200/s: faster spawning queues thousands of POST /api/threads in httpx's pool, whose
            # request assignment is quadratic (see the closing note of the issue).
            run("max", f"{args.max_sessions} sessions", args.max_sessions, "1", spawn_rate=200)
            if base:
                run("old_max", f"{old} {args.max_sessions} sessions", args.max_sessions, "1", base, spawn_rate=200)
        if "c" in args.only:
            for k in (1, 2):
                run(f"w{k}", f"{k} worker(s)", n, "1", workers=k)
    finally:
        firehose.stop()
    if "d" in args.only:
        from xtalk.runner.backend import parse_ready

        ready = work / "backend.ready"
        backend = Server([sys.executable, "-m", "xtalk", "serve", "--port", "0", "--ready-file", str(ready),
                          "--delay", "0:0", "--exit-after", "300s"], ready, parse_ready)
        try:
            case("backend", "reference backend", lambda: locust_run(
                backend.url, min(n, 200), workers=0, live="1", window=args.window, spawn_rate=200,
                server_pid=backend.proc.pid, work=work, label="backend", mint=False))
        finally:
            backend.stop()

    print()
    print(f"{'case':<62} {'sessions':>8} {'events/s':>10} {'ev/CPU-s':>10} {'client CPU':>10} {'side CPU':>9} "
          f"{'server CPU':>10}")
    rows = [("bare", "(a) bare receive loop: WsConnection + orjson, no Locust (best of 2)"),
            ("bare_first", "    the other bare run (first or last)"),
            ("bare_pump", "(a) the same bare loop read by one ReadPump (xtalk.client.pump)"),
            ("bare_record", "(a) that loop + xtalk's Recorder: no Locust, session, tracker"),
            ("locust_floor", "(a) Locust alone: a wake-up and 3 request events a request"),
            ("record", "(a) xtalk on Locust: recording, live checking off"),
            ("full", "(a) xtalk on Locust: recording + live checking (side process)"),
            ("inline", "(a) xtalk on Locust: recording + live checking inline"),
            ("old_record", f"(a) {old}: recording, live checking off"),
            ("old_full", f"(a) {old}: recording + live checking (its default)"),
            ("max", f"(b) xtalk full path, {args.max_sessions} sessions"),
            ("old_max", f"(b) {old}: full path, {args.max_sessions} sessions"),
            ("w1", "(c) master + 1 worker, full path"),
            ("w2", "(c) master + 2 workers, full path"),
            ("backend", "(d) full path against the reference backend (zero delays)")]
    for key, label in rows:
        r = results.get(key)
        if r is None:
            continue
        cpu = f"{r.cpu / r.seconds:.0%}" if r.seconds else "-"
        side = f"{r.side_cpu / r.seconds:.0%}" if r.seconds and r.side_cpu else "-"
        server = f"{r.server_cpu / r.seconds:.0%}" if r.seconds and r.server_cpu else "-"
        print(f"{label:<62} {r.sessions:>8,} {r.per_s:>10,.0f} {r.per_cpu:>10,.0f} {cpu:>10} {side:>9} {server:>10}")
    print()
    goals: list[tuple[str, str, bool | None]] = []
    bare = results.get("bare")

    def ratios(key: str, who: str, goal: float, what: str) -> None:
        r = results.get(key)
        if r is None or bare is None or not bare.per_cpu:
            return
        ratio = r.per_cpu / bare.per_cpu
        wall = r.per_s / bare.per_s if bare.per_s else 0.0
        goals.append((f"(a) {who}{what} / bare, per worker CPU-s (wall)", f"{ratio:.2f} ({wall:.2f}), goal >= {goal}",
                      ratio >= goal))
        if r.side_cpu:
            whole = r.per_all_cpu / bare.per_cpu
            goals.append((f"    the same per CPU-s of worker + side process", f"{whole:.2f}, goal >= {goal}",
                          whole >= goal))

    ratios("record", "", 0.7, "recording alone")
    floor = results.get("bare_record")
    if floor is not None and bare is not None and bare.per_cpu:
        # Not a goal: how much of the 0.7 recording's own writing leaves to everything else.
        goals.append(("    the bare loop + Recorder alone / bare, per CPU-s (the ceiling)",
                      f"{floor.per_cpu / bare.per_cpu:.2f}", None))
        if floor.per_cpu:
            left = (1 / (0.7 * bare.per_cpu) - 1 / floor.per_cpu) * 1e6
            record = results.get("record")
            spent = (f"; spent now: {(1 / record.per_cpu - 1 / floor.per_cpu) * 1e6:.1f}"
                     if record is not None and record.per_cpu else "")
            goals.append(("    at 0.7: µs an event for Locust, session and tracker together",
                          f"{left:.2f}{spent}", None))
            locust = results.get("locust_floor")
            if locust is not None and locust.per_cpu:
                goals.append((f"    Locust alone, µs an event ({args.events} events a request)",
                              f"{1e6 / locust.per_cpu:.2f}", None))
    ratios("full", "", 0.5, "full path")
    ratios("inline", "", 0.5, "full path inline")
    ratios("old_record", f"{old}: ", 0.7, "recording alone")
    ratios("old_full", f"{old}: ", 0.5, "full path")

    def memory(key: str, small_key: str, who: str) -> None:
        big, small = results.get(key), results.get(small_key)
        if big is None or small is None:
            return
        per = (big.rss_start - small.rss_start) / max(1, big.sessions - small.sessions)
        per_peak = (big.rss_peak - small.rss_peak) / max(1, big.sessions - small.sessions)
        goals.append((f"(b) {who}sessions held by one worker (asked {args.max_sessions})", f"{big.sessions:,}",
                      big.sessions >= args.max_sessions))
        goals.append((f"(b) {who}memory per session at load start (peak)", f"{kb(per)} ({kb(per_peak)}), goal <= 25 KB",
                      per <= 25 * 1024))
        if big.side_rss:
            goals.append((f"    its live side process's memory at load start", kb(big.side_rss), None))

    memory("max", "full", "")
    memory("old_max", "old_full", f"{old}: ")
    if "w1" in results and "w2" in results:
        one, two = results["w1"], results["w2"]
        ratio = two.per_cpu / one.per_cpu if one.per_cpu else 0.0
        goals.append(("(c) two workers / one, events per worker CPU-second", f"{ratio:.2f}", ratio >= 0.85))
    if "backend" in results:
        b = results["backend"]
        server_share = b.server_cpu / b.seconds if b.seconds else 0.0
        client_share = b.cpu / b.seconds if b.seconds else 0.0
        capacity = b.events / b.server_cpu if b.server_cpu else 0.0
        goals.append(("(d) reference backend: CPU share, backend vs worker, same run",
                      f"{server_share:.0%} vs {client_share:.0%}", None))
        goals.append(("(d) reference backend capacity: events per server CPU-second", f"{capacity:,.0f}", None))
        if "full" in results and results["full"].per_cpu:
            goals.append(("(d) one backend core feeds this many full-path workers",
                          f"{capacity / results['full'].per_cpu:.1f}", None))
    for label, value, ok in goals:
        verdict = "" if ok is None else ("  goal met" if ok else "  GOAL MISSED")
        print(f"{label:<66} {value}{verdict}")
    if args.keep:
        print(f"\nhistories and Locust logs in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)  # hundreds of MB of histories
    return 0


if __name__ == "__main__":
    sys.exit(main())
