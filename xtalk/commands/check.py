"""``xtalk check HISTORY... [--scenario SCENARIO] [--out DIR]``: re-check recorded histories.

Before the checker reads anything, each file's first lines are sniffed (``read_head``): a file
that is no xtalk history (a report.html, a verdict.json, any other JSON or text) is a usage error
(exit 3) that says what the file looks like, never an "inconclusive" verdict over nothing. The
history's ``meta`` record gives the trend row its run id, host and profile: a re-check of a run
replaces that run's row in the trend store rather than adding a stranger beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from xtalk.errors import UsageError

HELP = "re-check recorded history files offline"
DESCRIPTION = """\
Re-check recorded history files offline, with the same checker a live run uses.

Pass one history.jsonl, or every history-<worker>.jsonl shard of a distributed run: shards are
merged by time as they are read (nothing is copied); witness line numbers then count lines of
that merged stream, and each finding's witness_at names the shard file and line of each one.
Without --scenario, every anomaly kind has limit 0 and there are no latency thresholds; with
it, the scenario's deadline, drain window and thresholds apply.

Every check appends its row to the trend store ($XTALK_TREND_DB, else reports/history.sqlite
of the current folder), under the run id of the history's meta record: re-checking a run
replaces its row.

examples:
  xtalk check reports/20261122-031500-golden_path/history.jsonl
  xtalk check reports/RUN/history-*.jsonl --scenario scenarios/nightly_isolation.toml --out /tmp/recheck

exit status: 0 pass, 1 fail, 2 inconclusive, 3 usage error (also: a file that is no xtalk history).
"""

HEAD_LINES = 5  # non-blank lines looked at: one of them must be a history record
HEAD_BYTES = 1 << 16


@dataclass(slots=True)
class HistoryHead:
    """What the first lines of a history say about its run (the ``meta`` record, if any)."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)


def _looks_like(head: bytes, path: Path) -> str:
    """A short description of what a file that is no history holds."""
    text = head.lstrip()
    if not text:
        return "an empty file"
    if b"\x00" in head[:1024]:
        return "binary data"
    lowered = text[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered:
        return "an HTML page" + (" (an xtalk report?)" if b"xtalk" in head.lower() else "")
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<testsuites"):
        return "an XML document" + (" (junit.xml?)" if b"testsuite" in lowered else "")
    if text.startswith((b"{", b"[")):
        try:
            whole = orjson.loads(path.read_bytes()) if path.stat().st_size < 64 << 20 else None
        except (orjson.JSONDecodeError, OSError):
            whole = None
        if isinstance(whole, dict):
            schema = whole.get("schema")
            if isinstance(schema, str) and schema.startswith("xtalk.verdict/"):
                return f"a verdict ({schema}), not the history it was checked from"
            keys = ", ".join(sorted(str(k) for k in whole)[:5])
            if len(text.strip().splitlines()) == 1:
                return f"JSON lines without a \"kind\" field (keys {keys})"
            return f"one JSON object (keys {keys}) over several lines rather than one record a line"
        if isinstance(whole, list):
            return "a JSON array rather than one record a line"
        return "JSON lines without a \"kind\" field (no xtalk.history/1 record)"
    first = text.splitlines()[0][:60].decode("utf-8", "replace")
    return f"text that is not JSON (it begins {first!r})"


def read_head(path: Path) -> HistoryHead:
    """The head of one history file, or a ``UsageError`` saying what the file is instead."""
    if not path.exists():
        raise UsageError("a history file written by xtalk run", f"{path} (no such file)",
                         "pass the history*.jsonl files of a run folder")
    if path.is_dir():
        raise UsageError("a history file", f"{path} (a directory)", f"pass the files inside it: {path}/history*.jsonl")
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as error:
        raise UsageError("a readable history file", f"{path} ({error.strerror})",
                         "check the path and its permissions") from None
    seen = 0
    for line in head.splitlines():
        if not line.strip():
            continue
        seen += 1
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("kind"), str):
            meta = record if record["kind"] == "meta" else {}
            return HistoryHead(path, dict(meta))
        if seen >= HEAD_LINES:
            break
    raise UsageError(
        "an xtalk history (JSON lines, one record a line, schema xtalk.history/1)",
        f"{path}: {_looks_like(head, path)}",
        "pass the history*.jsonl files of a run folder (xtalk report RUN_DIR re-renders a report; "
        "a verdict needs no re-check)",
    )


def run_info(heads: list[HistoryHead], scenario: Any | None) -> dict[str, Any]:
    """The verdict's ``run`` facts from the histories' meta records (for the report and the trend)."""
    meta = next((h.meta for h in heads if h.meta), {})
    run_id = meta.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        # No run id recorded (an older or hand-made history): one that is stable for these files,
        # so that re-checking them replaces their row instead of adding one each time.
        digest = hashlib.sha1("\n".join(sorted(str(h.path.resolve()) for h in heads)).encode()).hexdigest()
        run_id = f"check-{digest[:12]}"
    info: dict[str, Any] = {
        "id": run_id,
        "scenario": scenario.name if scenario is not None else meta.get("scenario"),
        "host": meta.get("host"),
        "backend": meta.get("backend"),
        "profile": meta.get("profile"),
        "seed": meta.get("seed"),
        "workers": len(heads),
        "distributed": len(heads) > 1,
    }
    return {k: v for k, v in info.items() if v is not None}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("histories", nargs="+", metavar="HISTORY", help="history .jsonl file(s)")
    parser.add_argument("--scenario", metavar="SCENARIO", help="scenario file whose thresholds apply")
    parser.add_argument("--out", metavar="DIR", help="write verdict.json, report.html and junit.xml here")
    parser.add_argument("--json", action="store_true", help="print verdict.json to stdout instead of a summary")


def run(args: argparse.Namespace) -> int:
    from xtalk.history import check_files

    heads = [read_head(Path(p)) for p in args.histories]
    scenario = None
    if args.scenario:
        from xtalk.scenario.load import load_scenario

        scenario = load_scenario(args.scenario, check_env=False)  # re-checking needs no secrets
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    recheck = "xtalk check " + " ".join(shlex.quote(h) for h in args.histories)
    if args.scenario:
        recheck += f" --scenario {shlex.quote(args.scenario)}"
    verdict = check_files(
        args.histories,
        scenario,
        run=run_info(heads, scenario),
        recheck=recheck,
    )
    data = verdict.to_dict()
    code = verdict.exit_code
    if out is not None:
        write_outputs(out, data)
    else:
        append_trend(data)
    if args.json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(summarise(data))
        if out is not None:
            print(f"run folder: {out}")
    return code


def _last_record(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - 8192))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if line.strip():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                return None
            return record if isinstance(record, dict) else None
    return None


def write_outputs(out: Path, data: dict[str, Any]) -> None:
    from xtalk.report.outputs import write_run_outputs

    write_run_outputs(out, data)


def append_trend(data: dict[str, Any]) -> None:
    """Without --out there is no run folder, but the check still counts in the trend."""
    from xtalk.report.outputs import append_trend_row

    append_trend_row(data, None)


def summarise(data: dict[str, Any]) -> str:
    from xtalk.report.summary import format_summary

    return format_summary(data)
