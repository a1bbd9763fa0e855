"""Decoding Socket.IO packets: python-socketio/engineio's packet classes vs. a hand-rolled split.

The Socket.IO transport (``xtalk.transport.sio``) decodes every received packet with the field's
own classes (``engineio.packet.Packet`` then ``socketio.packet.Packet``, parsing JSON with
orjson). This measures what that costs per packet against the cheapest correct alternative (a
hand-rolled ``42`` prefix check and ``orjson.loads``), on real Chainlit packets
(``tests/data/chainlit/frames-single.json``: step upserts of ~600 bytes and short stream tokens),
and the whole received path of the session client (decode + history line) for scale.

    python benchmarks/bench_socketio_codec.py            # 200,000 packets per variant
    python benchmarks/bench_socketio_codec.py --packets 50000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import orjson

from xtalk.transport import SocketIOCodec

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "chainlit" / "frames-single.json"


def hand_rolled(data: bytes) -> object:
    if data[:2] == b"42":
        args = orjson.loads(data[2:])
        frame = {"event": args[0]}
        if len(args) > 1:
            frame["data"] = args[1]
        return frame
    return None


def measure(name: str, fn: object, packets: list[bytes], n: int) -> float:
    decode = fn  # type: ignore[assignment]
    rounds = max(1, n // len(packets))
    start = time.perf_counter()
    for _ in range(rounds):
        for packet in packets:
            decode(packet)  # type: ignore[operator]
    seconds = time.perf_counter() - start
    count = rounds * len(packets)
    print(f"  {name:<44} {count / seconds:>11,.0f} packets/s  {seconds / count * 1e6:6.2f} µs/packet")
    return seconds / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=200_000)
    args = parser.parse_args()
    packets = [r["frame"].encode() for r in json.loads(DATA.read_text()) if r["dir"] == "<" and r["frame"][:2] == "42"]
    codec = SocketIOCodec()
    sizes = sorted(len(p) for p in packets)
    print(f"{len(packets)} Chainlit event packets, {sizes[0]}..{sizes[-1]} bytes (median {sizes[len(sizes) // 2]})")
    ours = measure("packet classes (xtalk.transport.sio)", codec.decode, packets, args.packets)
    floor = measure("hand-rolled 42-prefix + orjson", hand_rolled, packets, args.packets)

    def record(data: bytes) -> bytes:
        item = codec.decode(data)[0]
        return orjson.dumps({"kind": "recv", "t": 1.0, "user": "u0001", "conn": "u0001-c1", "frame": item.frame})

    whole = measure("decode + history line (the received path)", record, packets, args.packets)
    print(f"the packet classes cost {(ours - floor) * 1e6:.2f} µs more per packet than the floor; "
          f"{(ours - floor) / whole:.0%} of the received path")


if __name__ == "__main__":
    main()
