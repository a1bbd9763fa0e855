"""Explanations as data, and their rendering, in the manner of Jepsen's and Elle's.

``render(finding, number)`` gives::

    cross_user_event #3
    Let   R = start_agent sent by u0007 on u0007-c1 at 12.301 s (history line 1204)
          E = tool_completed received by u0012 on u0012-c1 at 12.517 s (history line 1311)
    Then  E carries run_id run_9f2, bound to R by its content marker,
          but it was delivered to u0012: a cross-user leak.
    Likely causes: ...
"""

from __future__ import annotations

from xtalk.core.anomaly import LIKELY_CAUSES, Finding


def describe_send(verb: str, user: str, conn: str, t: float, line: int) -> str:
    return f"{verb} sent by {user} on {conn} at {t:.3f} s (history line {line})"


def describe_recv(type_name: str, user: str, conn: str, t: float, line: int) -> str:
    return f"{type_name} received by {user} on {conn} at {t:.3f} s (history line {line})"


def render(finding: Finding, number: int | None = None) -> str:
    title = finding.kind.value if number is None else f"{finding.kind.value} #{number}"
    lines = [title]
    for i, (name, text) in enumerate(finding.explanation.let):
        lead = "Let   " if i == 0 else "      "
        lines.append(f"{lead}{name} = {text}")
    then = finding.explanation.then.split("\n")
    lines.append(f"Then  {then[0]}")
    lines.extend(f"      {more}" for more in then[1:])
    causes = LIKELY_CAUSES.get(finding.kind, ())
    if causes:
        lines.append("Likely causes: " + "; ".join(causes) + ".")
    return "\n".join(lines)
