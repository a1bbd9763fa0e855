"""Property tests of the review of issue 10: leaky worlds whose exact verdict is known.

Each example is 2-5 users in flight together, one request each, whose runs (any envelope family,
with or without the request's marker echoed, with or without a sub-agent and a tool call) are
interleaved arbitrarily, and then damaged the ways NETRA_PROTOCOL §5 describes: an event moved
to another user (a bridge falling back to the wrong user), copied to another user as well (a
shared factory), a thinking step quoting another user's pending request (a shared prompt buffer),
an event retried with a new time stamp (send read as failure), the misc emitter's run-id-less
completion echo before or after the run's own. SPEC's rules give the exact counts: every moved
or copied event a cross_user_event, every quote a cross_user_content, every retry a
duplicate_event (a quote's retry is content again: the first kind that fits), nothing else; every
request ok, except one whose final completion went to another user (failed). Every draw is a
Hypothesis draw, so a failing example shrinks to a small history.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st

from tests.histories import History, only, requests_of, retried, saying

FAMILIES = ["bridge", "bridge_payload", "emitter"]


@st.composite
def leaky_worlds(draw: Any) -> tuple[History, dict[str, int], int]:
    """A history, the anomaly counts SPEC gives it, and how many requests failed."""
    h = History()
    n = draw(st.integers(2, 5))
    users = [f"u{i:04d}" for i in range(n)]
    for i, u in enumerate(users):
        h.user(u, at=round(0.1 + i * 0.01, 6))
    asks = [h.ask(u, at=round(1.0 + i * 0.001, 6)) for i, u in enumerate(users)]
    expected: dict[str, int] = {}
    failed = 0

    def bump(kind: str) -> None:
        expected[kind] = expected.get(kind, 0) + 1

    streams: list[list[tuple[str, dict[str, Any]]]] = []
    for a in asks:
        others = [x for x in asks if x is not a]
        frames = h.frames(a, family=draw(st.sampled_from(FAMILIES)), echo=draw(st.booleans()),
                          sub=draw(st.booleans()), tool=draw(st.booleans()))
        quoted = draw(st.booleans())
        if quoted:
            frames[1] = saying(frames[1], f"Quote: {draw(st.sampled_from(others)).text}")
        stream: list[tuple[str, dict[str, Any]]] = []
        damaged = False
        for k, frame in enumerate(frames):
            fate = "own" if (k == 1 and quoted) else draw(st.sampled_from(["own"] * 6 + ["moved", "copied"]))
            if fate == "moved":
                stream.append((draw(st.sampled_from(others)).user, frame))
                bump("cross_user_event")
                damaged = True
                if k == len(frames) - 1:
                    failed += 1
                continue
            stream.append((a.user, frame))
            if k == 1 and quoted:
                bump("cross_user_content")
            if fate == "copied":
                stream.append((draw(st.sampled_from(others)).user, {**frame, "timestamp": f"copy-{a.run}-{k}"}))
                bump("cross_user_event")
                damaged = True
            if draw(st.integers(0, 9)) == 0:
                stream.append((a.user, retried(frame, 2, f"retry-{a.run}-{k}")))
                bump("cross_user_content" if (k == 1 and quoted) else "duplicate_event")
        if not damaged and draw(st.booleans()):
            echo = {"type": "agent_completed", "timestamp": f"echo-{a.run}",
                    "payload": {"response": "Done.", "thread_id": a.thread}}
            last = max(i for i, (u, f) in enumerate(stream) if f is frames[-1])
            stream.insert(last + draw(st.integers(0, 1)), (a.user, echo))
        streams.append(stream)
    t = 1.1
    positions = [0] * n
    while any(positions[i] < len(streams[i]) for i in range(n)):
        i = draw(st.sampled_from([i for i in range(n) if positions[i] < len(streams[i])]))
        user, frame = streams[i][positions[i]]
        h.recv(user, frame, at=round(t, 6))
        positions[i] += 1
        t += 0.001
    h.end(at=10.0)
    return h, expected, failed


@given(leaky_worlds())
def test_a_leaky_world_gives_exactly_the_counts_spec_gives_it(world: tuple[History, dict[str, int], int]) -> None:
    h, expected, failed = world
    v = h.check()
    note("\n".join(f"{i:3d} {line.decode()[:220]}" for i, line in enumerate(h.lines(), start=1)))
    assert only(v) == expected
    r = requests_of(v)
    assert (r["failed"], r["unknown"], r["completed"]) == (failed, 0, r["sent"] - failed)


@st.composite
def tabbed_worlds(draw: Any) -> History:
    """Users with one or two tabs and one or two requests each, asked on either tab and answered
    on either, each run's misc echo before, after or absent. A user with two requests in flight
    has them echo their markers (runs and echoes): with none, two runs of one user answered out
    of order, or an echo arriving after the next run started, are not told apart."""
    h = History()
    n = draw(st.integers(2, 4))
    users = [f"u{i:04d}" for i in range(n)]
    conns: dict[str, list[str]] = {}
    for i, u in enumerate(users):
        h.user(u, at=round(0.1 + i * 0.01, 6))
        conns[u] = [f"{u}-c1"]
        if draw(st.booleans()):
            h.open(u, conn=f"{u}-c2", at=round(0.15 + i * 0.01, 6))
            conns[u].append(f"{u}-c2")
    asks = []
    t0 = 1.0
    for u in users:
        for j in range(draw(st.integers(1, 2))):
            thread = f"thread_{u}_{j}" if draw(st.booleans()) else None
            asks.append(h.ask(u, at=round(t0, 6), conn=draw(st.sampled_from(conns[u])), text=f"Q{j} for {u}",
                              thread=thread))
            t0 += 0.001
    streams = []
    for a in asks:
        two = sum(1 for x in asks if x.user == a.user) > 1
        frames = h.frames(a, family=draw(st.sampled_from(FAMILIES)), echo=two or draw(st.booleans()),
                          sub=draw(st.booleans()), tool=draw(st.booleans()))
        frames = [{**f, "timestamp": f"{f['timestamp']}-{a.run}"} for f in frames]
        echo = {"type": "agent_completed", "timestamp": f"echo-{a.run}",
                "payload": {"response": f"Done: {a.text}" if two or draw(st.booleans()) else "Done.", "thread_id": a.thread}}
        where = draw(st.sampled_from(["none", "before", "after"]))
        if where == "before":
            frames = frames[:-1] + [echo, frames[-1]]
        elif where == "after":
            frames = frames + [echo]
        conn = draw(st.sampled_from(conns[a.user]))
        streams.append([(a.user, conn, f) for f in frames])
    t = 1.1
    positions = [0] * len(streams)
    while any(positions[i] < len(streams[i]) for i in range(len(streams))):
        i = draw(st.sampled_from([i for i in range(len(streams)) if positions[i] < len(streams[i])]))
        user, conn, frame = streams[i][positions[i]]
        h.recv(user, frame, at=round(t, 6), conn=conn)
        positions[i] += 1
        t += 0.001
    h.end(at=10.0)
    return h


@given(tabbed_worlds())
def test_tabs_and_misc_echoes_in_any_order_are_clean(h: History) -> None:
    v = h.check()
    note("\n".join(f"{i:3d} {line.decode()[:220]}" for i, line in enumerate(h.lines(), start=1)))
    assert only(v) == {}
    r = requests_of(v)
    assert (r["completed"], r["failed"], r["unknown"]) == (r["sent"], 0, 0)
