"""Did the run run at all? A scan of the history shards for what the harness could not do.

A run in which no user ever opened a WebSocket (every login answered 401 or 500, every handshake
was refused, the host went away) concluded nothing about isolation, and the cause is the
server's or the configuration's, not an anomaly: ``xtalk run`` reports it as a harness error
(exit 3) with one paragraph saying what was expected, what happened and how to fix it. A run in
which some users got through goes on to the checker; the failures stay in the history as
``error`` and ``close`` records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson


@dataclass(slots=True)
class Health:
    logins: int = 0
    opens: int = 0
    sends: int = 0
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (phase, detail) -> count

    @property
    def nothing_ran(self) -> bool:
        return self.opens == 0

    def explain(self, host: str) -> str:
        """The one-paragraph message for a run in which no user could connect."""
        if self.errors:
            (phase, detail), count = self.errors.most_common(1)[0]
            found = f"{count} {phase} error(s), e.g. \"{detail}\""
            others = sum(self.errors.values()) - count
            if others:
                found += f", and {others} other error(s)"
        else:
            found = "no login and no connection at all (did any user spawn?)"
        if any(phase in ("register", "login") for phase, _ in self.errors):
            fix = ("check the scenario's [auth] strategy and its secrets, and that the auth service at "
                   f"{host} (or [auth] auth_host) accepts them")
        elif any(phase == "open" for phase, _ in self.errors):
            fix = (f"check that {host} serves the WebSocket at /ws and accepts the jwt-auth subprotocol "
                   "and the token its auth service issued")
        else:
            fix = "read the error records in the history and Locust's output above"
        return (f"expected users to log in and open WebSocket sessions on {host} but got {found}; "
                f"{self.logins} logins succeeded and 0 connections opened, so nothing about isolation "
                f"could be concluded; {fix}")


def read_health(paths: Iterable[Path]) -> Health:
    health = Health()
    for path in paths:
        with open(path, "rb") as handle:
            for line in handle:
                # Cheap prefilter: only the few record kinds counted here are parsed.
                if b'"kind":"recv"' in line[:24]:
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                kind = record.get("kind")
                if kind == "login":
                    health.logins += 1
                elif kind == "open":
                    health.opens += 1
                elif kind == "send":
                    health.sends += 1
                elif kind == "error":
                    health.errors[(str(record.get("phase")), str(record.get("detail")))] += 1
    return health
