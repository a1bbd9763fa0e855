"""Refresh ``tests/data/corpus/recorded.jsonl.gz``: run ``xtalk selftest`` (every fault of the
reference backend, a clean run, the probes) and bundle the shards of its runs.

    python -m tests.differential.record                 # runs xtalk selftest into a temporary folder
    python -m tests.differential.record --from DIR      # bundles the runs of an earlier selftest --out DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.differential.corpus import BUNDLES, write_bundle


def collect(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("history*.jsonl"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", help="a folder written by xtalk selftest --out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.source) if args.source else Path(tmp) / "selftest"
        if not args.source:
            subprocess.run([sys.executable, "-m", "xtalk", "selftest", "--clean-users", "40", "--out", str(root)],
                           check=False)
        histories = collect(root)
        write_bundle(BUNDLES / "recorded.jsonl.gz", histories)
        print(f"{len(histories)} histories bundled into {BUNDLES / 'recorded.jsonl.gz'}")


if __name__ == "__main__":
    main()
