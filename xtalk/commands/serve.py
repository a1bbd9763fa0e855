"""``xtalk serve``: run the reference backend alone, optionally with injected faults.

Prints one line, ``xtalk serve: listening on http://127.0.0.1:PORT (engine main)``, once it
accepts connections, and writes the URL atomically to ``--ready-file`` (what ``xtalk run`` waits
for). Bad flags are ``UsageError`` (exit 3) before anything binds. Ctrl-C or SIGTERM stop it;
``--exit-after`` bounds its life.
"""

from __future__ import annotations

import argparse
import sys

from xtalk.backend.config import BackendConfig, parse_fault
from xtalk.errors import UsageError

HELP = "run the reference backend alone (optionally with injected faults)"
DESCRIPTION = """\
Run the reference backend: a Netra-protocol auth service, threads API and agent WebSocket on one
port.

Engine paths (?mode= of the WebSocket; --engine picks the one for connections that ask for none):
{engines}

Faults (repeatable, NAME or NAME=RATE, RATE a probability in [0, 1]):
{faults}

examples:
  xtalk serve --port 8000
  xtalk serve --port 0 --engine legacy --ready-file /tmp/ready
  xtalk serve --fault shared_factory=0.5 --fault drop_run=0.1 --ground-truth truth.jsonl
  xtalk serve --token-lifetime 2m --max-connections-per-user 5
"""


#: What each engine path is (the ENGINES of xtalk.backend.config, in its order).
ENGINE_HELP = {
    "main": "the emitter family: flat events, run ids run_<hex>; correct",
    "factory": "the bridge family with events under payload, a request-scoped engine per run; correct",
    "isolated": "the bridge family with events under data, one UserExecutionEngine per user; correct",
    "legacy": "one agent factory shared by every request and reconfigured per request: leaks between "
              "users under concurrency, never with one user (on purpose: see scenarios/demo_leak.toml)",
}
WIDTH = 100


def _lines(items: list[tuple[str, str]]) -> str:
    """``  name  explanation`` lines, the explanation wrapped under itself."""
    import textwrap

    out = []
    for name, text in items:
        wrapped = textwrap.wrap(text, width=WIDTH - 26) or [""]
        out.append(f"  {name:<24}{wrapped[0]}")
        out.extend(" " * 26 + line for line in wrapped[1:])
    return "\n".join(out)


def _fault_lines() -> str:
    """Every fault with its own description from the fault table (one place) and default rate."""
    from xtalk.backend.faults import FAULTS

    return _lines([(name, f"{info.description} (default rate {info.default_rate:g})")
                   for name, info in FAULTS.items()])


def _engine_lines() -> str:
    from xtalk.backend.config import ENGINES

    return _lines([(name, ENGINE_HELP.get(name, "an engine path of the reference backend")) for name in ENGINES])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION.format(faults=_fault_lines(), engines=_engine_lines())
    p.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one")
    p.add_argument("--bind", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--engine", default="main",
                   help="engine path for connections that ask for none (default main)")
    p.add_argument("--fault", action="append", default=[], metavar="NAME[=RATE]",
                   help="inject a fault (repeatable)")
    p.add_argument("--seed", type=int, default=1, help="seed for delays and fault draws")
    p.add_argument("--ground-truth", metavar="FILE", help="append what the faults did (JSONL)")
    p.add_argument("--ready-file", metavar="FILE", help="write the URL here once accepting")
    p.add_argument("--exit-after", metavar="T", help="stop after T (seconds, or 30s, 5m, 1h)")
    p.add_argument("--delay", metavar="MIN:MAX", default="0.005:0.04",
                   help="seconds between two events of a run (default 0.005:0.04)")
    p.add_argument("--retry-delays", metavar="D1,D2", default="1,2",
                   help="retry_duplicates: seconds before attempts 2 and 3 (default 1,2)")
    p.add_argument("--slow-handshake", type=float, default=2.0, metavar="SECONDS",
                   help="slow_handshake: seconds a handshake waits (default 2)")
    p.add_argument("--token-lifetime", metavar="T", default="900",
                   help="access tokens live T (seconds, or 30s, 5m; default 900 = Netra's 15 minutes)")
    p.add_argument("--max-connections-per-user", type=int, default=0, metavar="N",
                   help="refuse a user's connection past N live ones (CONNECTION_LIMIT_EXCEEDED, "
                        "close 1013); default 0: no limit (Netra: 3-10)")


def parse_seconds(text: str, flag: str) -> float:
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    value = text.strip().lower()
    scale = units.get(value[-1:], 1.0) if value else 1.0
    if value[-1:] in units:
        value = value[:-1]
    try:
        seconds = float(value) * scale
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise UsageError("a duration such as 30, 30s, 5m or 1h", f"{flag} {text}",
                         f"write {flag} 30s")
    return seconds


def _floats(text: str, sep: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(sep))
    except ValueError:
        raise UsageError(f"numbers separated by '{sep}'", f"{flag} {text}",
                         f"write e.g. {flag} 0.005{sep}0.04") from None


def config_from_args(args: argparse.Namespace) -> BackendConfig:
    delays = _floats(args.delay, ":", "--delay")
    if len(delays) != 2:
        raise UsageError("MIN:MAX", f"--delay {args.delay}", "write --delay 0.005:0.04")
    return BackendConfig(
        engine=args.engine,
        faults=tuple(parse_fault(text) for text in args.fault),
        seed=args.seed,
        delay_min=delays[0],
        delay_max=delays[1],
        ground_truth=args.ground_truth,
        retry_delays=_floats(args.retry_delays, ",", "--retry-delays"),
        slow_handshake=args.slow_handshake,
        token_lifetime=parse_seconds(args.token_lifetime, "--token-lifetime"),
        max_connections_per_user=args.max_connections_per_user,
    ).validate()


def run(args: argparse.Namespace) -> int:
    from xtalk.backend.server import serve_forever

    config = config_from_args(args)
    exit_after = parse_seconds(args.exit_after, "--exit-after") if args.exit_after else None
    if not 0 <= args.port <= 65535:
        raise UsageError("a port between 0 and 65535", f"--port {args.port}", "pass --port 0")

    def announce(url: str) -> None:
        print(f"xtalk serve: listening on {url} (engine {args.engine})", flush=True)

    serve_forever(config, args.bind, args.port, args.ready_file, exit_after, announce)
    print("xtalk serve: stopped", file=sys.stderr, flush=True)
    return 0
