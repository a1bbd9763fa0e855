"""Events/s one gevent process (as a Locust worker is) receives with each WebSocket client.

Compares, side by side in one run:

- ``sansio``: xtalk's client, ``websockets``' sans-I/O ``ClientProtocol`` on a gevent socket
  (``xtalk.client.wsconn.WsConnection``), one receive greenlet per connection;
- ``sync``: ``websockets.sync.client.connect`` under gevent's monkey-patching (its background
  thread per connection becomes a greenlet), compression off like ours.

Each client process opens N sessions to a firehose server (its own process: asyncio, one
pre-encoded buffer of small JSON event frames written again and again, so the server costs next
to nothing per event), waits until all are connected, then counts the events it receives and
parses (orjson plus a dictionary lookup, as the session client does) for a fixed window.
Reported: events/s (wall), events per CPU-second of the client process (fairer on a machine
whose cores are shared with the server) and resident memory per connection.

    python benchmarks/bench_ws_clients.py                 # 100 and 1,000 sessions, 5 s windows
    python benchmarks/bench_ws_clients.py --sessions 100 --window 3

Everything runs on 127.0.0.1 and stops by itself (each child has a hard time limit).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

FRAME_JSON = (b'{"type":"agent_thinking","run_id":"run_ws_4d2a","user_id":"7f3a9c21-4b6e-4c0a-9d1e-2f8b5a6c7d90",'
              b'"agent_name":"triage","payload":{"thought":"Looking at the spend tables","step_number":1}}')


# ---- the firehose server (child process) ---------------------------------------------------------


def serve(port_file: str, lifetime: float) -> None:
    import asyncio

    from websockets.frames import Frame, Opcode
    from websockets.http11 import Request
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    proto = ServerProtocol(state=State.OPEN)  # only to serialise the frames below
    chunk_frames = 200
    for _ in range(chunk_frames):
        proto.send_frame(Frame(Opcode.TEXT, FRAME_JSON))
    chunk = b"".join(proto.data_to_send())

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server = ServerProtocol()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                server.receive_data(data)
                events = server.events_received()
                if events and isinstance(events[0], Request):
                    server.send_response(server.accept(events[0]))
                    writer.write(b"".join(server.data_to_send()))
                    break
            # Stream once the client says go (any frame): idle memory is measured before that.
            if not await reader.read(65536):
                return

            async def discard() -> None:  # whatever else the client sends (nothing much)
                try:
                    while await reader.read(65536):
                        pass
                except (ConnectionError, OSError):
                    pass
            task = asyncio.ensure_future(discard())
            while not task.done():
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port = srv.sockets[0].getsockname()[1]
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(port_file + ".tmp", port_file)
        await asyncio.sleep(lifetime)

    asyncio.run(main())


# ---- the client (child process, monkey-patched like Locust) --------------------------------------


def client(kind: str, url: str, sessions: int, window: float) -> None:
    from gevent import monkey

    monkey.patch_all()
    import resource

    import gevent
    import orjson

    counted = [0]
    counting = [False]
    seen: dict[str, int] = {}

    def on_event(data: bytes | str) -> None:
        frame = orjson.loads(data)
        seen[frame["type"]] = 1  # a dictionary lookup per event, as the tracker does
        if counting[0]:
            counted[0] += 1

    def rss_kb() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    base_rss = rss_kb()
    conns: list[object] = []

    if kind == "sansio":
        from xtalk.client.wsconn import WsConnection

        def open_one() -> None:
            ws = WsConnection(url, on_message=lambda d, b: on_event(d))
            ws.open(timeout=60.0)
            conns.append(ws)
            ws.start_reader(gevent.spawn, gevent.sleep)
    else:
        from websockets.sync.client import connect

        def reader(ws: object) -> None:
            try:
                for message in ws:  # type: ignore[attr-defined]
                    on_event(message)  # no explicit yield: its bounded queue blocks (and switches)
            except Exception:
                pass

        def open_one() -> None:
            ws = connect(url, compression=None, open_timeout=60, proxy=None, ping_interval=None,
                         max_queue=64)
            conns.append(ws)
            gevent.spawn(reader, ws)

    started = time.monotonic()
    jobs = [gevent.spawn(open_one) for _ in range(sessions)]
    gevent.joinall(jobs, timeout=120)
    failed = sum(1 for j in jobs if not j.successful())
    connect_s = time.monotonic() - started
    gevent.sleep(0.5)
    idle_kb = (rss_kb() - base_rss) / max(1, len(conns))
    for ws in conns:
        ws.send_text("go") if kind == "sansio" else ws.send("go")  # type: ignore[attr-defined]
    gevent.sleep(0.5)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    counting[0] = True
    gevent.sleep(window)
    counting[0] = False
    elapsed = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    rss = rss_kb()
    print(json.dumps({"kind": kind, "sessions": sessions, "connected": len(conns), "failed": failed,
                      "connect_s": round(connect_s, 2), "events": counted[0],
                      "events_per_s": counted[0] / elapsed, "events_per_cpu_s": counted[0] / max(cpu, 1e-9),
                      "kb_per_conn": idle_kb, "busy_kb_per_conn": (rss - base_rss) / max(1, len(conns))}), flush=True)
    os._exit(0)  # don't wait for thousands of greenlets to wind down


# ---- the driver ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--window", type=float, default=5.0, help="seconds of counting per measurement")
    parser.add_argument("--clients", nargs="+", default=["sansio", "sync"], choices=["sansio", "sync"])
    args = parser.parse_args()

    results = []
    for sessions in args.sessions:
        for kind in args.clients:
            port_file = f"/tmp/xtalk-bench-ws-{os.getpid()}.port"
            lifetime = args.window + 150
            server = subprocess.Popen([sys.executable, __file__, "_serve", port_file, str(lifetime)])
            try:
                deadline = time.monotonic() + 20
                while not os.path.exists(port_file):
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the firehose server did not start")
                    time.sleep(0.05)
                with open(port_file) as f:
                    url = f"ws://127.0.0.1:{f.read().strip()}/"
                out = subprocess.run([sys.executable, __file__, "_client", kind, url, str(sessions), str(args.window)],
                                     capture_output=True, text=True, timeout=args.window + 140)
                line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
                if line is None:
                    print(f"{kind} x {sessions}: no result\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                results.append(json.loads(line))
                r = results[-1]
                print(f"  measured {kind:6} x {sessions:5}: {r['events_per_s']:>9,.0f} events/s", file=sys.stderr)
            finally:
                server.terminate()
                server.wait(timeout=10)
                if os.path.exists(port_file):
                    os.unlink(port_file)

    print()
    print(f"one gevent process, small JSON events parsed with orjson, {args.window:g} s windows, loopback")
    header = f"{'client':<34}{'sessions':>9}{'connected':>10}{'events/s':>12}{'events/CPU-s':>14}{'KB/idle conn':>13}{'KB/busy conn':>13}"
    print(header)
    print("-" * len(header))
    names = {"sansio": "sans-I/O ClientProtocol on gevent", "sync": "websockets.sync.client"}
    for r in results:
        print(f"{names[r['kind']]:<34}{r['sessions']:>9}{r['connected']:>10}{r['events_per_s']:>12,.0f}"
              f"{r['events_per_cpu_s']:>14,.0f}{r['kb_per_conn']:>13.1f}{r['busy_kb_per_conn']:>13.1f}")
    by = {(r["kind"], r["sessions"]): r for r in results}
    for sessions in args.sessions:
        a, b = by.get(("sansio", sessions)), by.get(("sync", sessions))
        if a and b and b["events_per_s"]:
            print(f"ratio sans-I/O / sync at {sessions} sessions: {a['events_per_s'] / b['events_per_s']:.2f}x events/s, "
                  f"{a['events_per_cpu_s'] / max(b['events_per_cpu_s'], 1):.2f}x per CPU-s")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        serve(sys.argv[2], float(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_client":
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        raise SystemExit(main())
