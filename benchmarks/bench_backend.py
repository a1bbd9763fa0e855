"""How many agent events per second the reference backend delivers, per uvicorn WS protocol.

    python benchmarks/bench_backend.py [--seconds 8] [--users 200] [--inflight 2] [--ws all]

For each WebSocket implementation (default: websockets-sansio, websockets, wsproto) it starts the
backend in a child process (one core, zero delays between events), logs in ``--users`` users,
keeps ``--inflight`` requests in flight per user from an asyncio client in this process, and
prints side by side:

- events/s received by the client (wall clock; bounded by the client's own core too),
- events per server CPU-second (the server's capacity on one core: what to size runs by).

Not a test: no assertion, just figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time

import httpx
import orjson
import psutil
from websockets.asyncio.client import connect

FINAL_AGENT = "supervisor"


def serve_child(ws: str, port_file: str, seconds: float) -> None:
    from xtalk.backend.config import BackendConfig
    from xtalk.backend.server import RunningServer, write_ready_file

    config = BackendConfig(delay_min=0.0, delay_max=0.0, heartbeat_after=0.0,
                           reasoning_alias=0.0)
    running = RunningServer(config, ws=ws)
    asyncio.run(running.run(lambda url: write_ready_file(port_file, url), exit_after=seconds))


async def user_loop(base: str, n: int, inflight: int, stop_at: float, counts: list[int]) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        body = (await client.post("/auth/register",
                                  json={"email": f"b{n}@x.io", "password": "pw"})).json()
    token = body["access_token"]
    ws_url = "ws" + base[4:] + "/ws?mode=main"
    async with connect(ws_url, subprotocols=["jwt-auth", f"jwt.{token}"],  # type: ignore[list-item]
                       compression=None, max_queue=None) as ws:
        await ws.recv()  # welcome
        request = orjson.dumps({"type": "start_agent",
                                "payload": {"user_request": f"bench {n}"}}).decode()
        for _ in range(inflight):
            await ws.send(request)
        while time.monotonic() < stop_at:
            frame = orjson.loads(await ws.recv())
            counts[0] += 1
            if frame.get("type") == "agent_completed" and frame.get("agent_name") == FINAL_AGENT:
                await ws.send(request)


async def drive(base: str, users: int, inflight: int, seconds: float, pid: int) -> tuple[float, float]:
    counts = [0]
    server = psutil.Process(pid)
    stop_at = time.monotonic() + seconds + 2.0
    tasks = [asyncio.create_task(user_loop(base, n, inflight, stop_at, counts))
             for n in range(users)]
    await asyncio.sleep(2.0)  # warm-up: logins and handshakes
    cpu0, n0, t0 = sum(server.cpu_times()[:2]), counts[0], time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, n1, t1 = sum(server.cpu_times()[:2]), counts[0], time.monotonic()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    events = n1 - n0
    return events / (t1 - t0), events / max(cpu1 - cpu0, 1e-9)


def bench(ws: str, args: argparse.Namespace) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        ready = os.path.join(folder, "ready")
        child = subprocess.Popen([sys.executable, __file__, "--serve-child", ws, "--port-file", ready,
                                  "--seconds", str(args.seconds + 10)])
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(ready) and time.monotonic() < deadline:
                time.sleep(0.05)
            base = open(ready).read().strip()
            return asyncio.run(drive(base, args.users, args.inflight, args.seconds, child.pid))
        finally:
            child.terminate()
            child.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--inflight", type=int, default=2)
    parser.add_argument("--ws", default="all", help="websockets-sansio, websockets, wsproto, all")
    parser.add_argument("--serve-child", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_child:
        serve_child(args.serve_child, args.port_file, args.seconds)
        return
    kinds = ["websockets-sansio", "websockets", "wsproto"] if args.ws == "all" else [args.ws]
    print(f"reference backend, main path, zero delays, {args.users} users x {args.inflight} "
          f"in flight, {args.seconds:.0f} s each")
    print(f"{'uvicorn ws':<20}{'events/s (wall)':>18}{'events/server-CPU-s':>22}")
    for kind in kinds:
        wall, per_cpu = bench(kind, args)
        print(f"{kind:<20}{wall:>18,.0f}{per_cpu:>22,.0f}", flush=True)


if __name__ == "__main__":
    main()
