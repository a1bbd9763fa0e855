"""Active isolation probes (scenario ``[probes]``, opt-in): requests a correct server must refuse
or answer only to the prober, sent while the ordinary load runs.

One probing user (the first connected user of the process; worker 0 in distributed runs) and
one victim (the second) are chosen once the load starts. Each probe is recorded so that the
checker can judge the answer without guessing: probe requests are ``send`` records and probe
connections ``open``/``error`` records, all carrying ``probe`` (its name) and, where another
user is involved, ``victim`` (that user). Probes start with a ``probe`` record (``probe``:
``"start"``, ``user``, ``victim``, ``probes``) and end with one (``probe``: ``"end"``).

| probe | what is sent | the answer a correct server gives |
|---|---|---|
| ``foreign_thread`` | ``start_agent`` with the victim's ``thread_id`` | an error, or a run on a fresh thread of the prober; never events carrying the victim's thread or reaching the victim |
| ``spoofed_user_id`` | ``start_agent`` whose payload holds ``user_id`` = the victim's identity | the prober's own identity on every event; never the victim's |
| ``connection_limit`` | N extra connections of the prober, then one request on the last one | refusals past the server's limit; answers only to the prober |
| ``expired_token`` | a connection with an expired token (``mint_jwt``: minted expired) or, without the signing secret, the prober's token with a well-formed but wrong signature (``variant``: ``bad_signature``) | ``AUTH_FAILED`` and close 1008 (or a refused handshake); no welcome naming a user, no events |
| ``reconnect_storm`` | N connections of the prober opened and closed back to back | nothing for anyone else |
| ``session_takeover`` | while the victim has a request in flight, a connection of the prober that names the victim's live session (as the profile names sessions: ``{session}`` in the connect packet, query or headers) | a refusal, or a fresh empty session of the prober's own; never the victim's events |

The takeover connection's ``open`` carries ``probe``, ``victim`` and ``victim_conn``; it is not
marked ``expect: "refusal"``: a server may also answer with a fresh session of the prober's own.
It stays open until the victim's request ends, the server drops it, or ``TAKEOVER_WATCH``
seconds pass, and closes without the profile's ``before_close`` frames (which could end the
session it names).

This module decides nothing: it sends and records. Findings come from the checker.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Sequence
from typing import Any

import jwt

from xtalk.client import auth as auth_mod
from xtalk.client.session import Harness, Session, Tab
from xtalk.scenario.model import Probes


#: Seconds the takeover connection stays open at most; and how long the probe waits at most for
#: the victim to have a request in flight (the mid-run moment it aims at).
TAKEOVER_WATCH = 10.0
TAKEOVER_AIM = 10.0


def wanted(probes: Probes) -> list[str]:
    names = []
    if probes.foreign_thread:
        names.append("foreign_thread")
    if probes.spoofed_user_id:
        names.append("spoofed_user_id")
    if probes.connection_limit > 0:
        names.append("connection_limit")
    if probes.expired_token:
        names.append("expired_token")
    if probes.reconnect_storm > 0:
        names.append("reconnect_storm")
    if probes.session_takeover:
        names.append("session_takeover")
    return names


def altered_token(token: str) -> str:
    """The same header and claims with a well-formed signature that no longer matches: every
    signature byte inverted and encoded again as base64url. Well-formed matters: a server that
    skips the signature check must still be able to parse the token, or the probe could not
    tell "checks signatures" from "rejects garbage"."""
    head, _, signature = token.rpartition(".")
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (ValueError, binascii.Error):
        raw = signature.encode()
    flipped = bytes(b ^ 0xFF for b in raw) or b"\xff"
    return f"{head}." + base64.urlsafe_b64encode(flipped).rstrip(b"=").decode("ascii")


def expired_token(harness: Harness, session: Session) -> tuple[str, str]:
    """(token, variant): an expired minted token when the run holds the signing secret, else the
    session's token with an altered signature."""
    auth = harness.scenario.auth
    assert session.creds is not None
    if auth.strategy == "mint_jwt":
        try:
            secret = auth_mod._secret(auth, harness.environ)
        except auth_mod.AuthError:
            secret = ""
        if secret:
            claims = auth_mod.minted_claims(auth, harness.profile.auth, session.creds.email, session.user,
                                            lifetime=1800, issued=int(time.time()) - 3600)
            return jwt.encode(claims, secret, algorithm="HS256"), "expired"
    return altered_token(session.creds.token), "bad_signature"


def run_probes(harness: Harness, sessions: Sequence[Session], probes: Probes,
               sleep: Callable[[float], Any]) -> None:
    names = wanted(probes)
    if not names:
        return
    rec = harness.recorder
    ready = [s for s in sessions if s.creds is not None and s.next_tabs_alive()]
    if len(ready) < 2:
        rec.error(None, "probe", f"probes need two connected users in this process; found {len(ready)}",
                  probes=names)
        return
    prober, victim = ready[0], ready[1]
    assert victim.creds is not None
    rec.write({"kind": "probe", "t": rec.now(), "probe": "start", "user": prober.user, "victim": victim.user,
               "probes": names})
    engine = next(tab.engine for tab in prober.tabs if tab.alive)

    def home() -> Tab | None:
        return next((tab for tab in prober.tabs if tab.alive), None)

    if probes.foreign_thread and (tab := home()) is not None:
        if victim.thread is None:
            rec.error(prober.user, "probe", "foreign_thread: the victim has no thread", probe="foreign_thread")
        else:
            prober.probe_request(tab, "foreign_thread", f"Probe from {prober.user}: summarise this thread",
                                 thread=victim.thread, victim=victim.user)
    spoof_path = harness.profile.spoof_user_id
    if probes.spoofed_user_id and spoof_path is not None and (tab := home()) is not None:
        spoof = victim.creds.identity
        prober.probe_request(tab, "spoofed_user_id", f"Probe from {prober.user}: who am I?",
                             payload={spoof_path: spoof}, victim=victim.user, spoofed=spoof)
    if probes.connection_limit > 0:
        extra = [prober.open_tab(engine, probe="connection_limit", probe_index=i)
                 for i in range(probes.connection_limit)]
        opened = [tab for tab in extra if tab is not None]
        if opened:
            prober.probe_request(opened[-1], "connection_limit", f"Probe from {prober.user}: am I still me?")
        for tab in opened:
            prober.close_tab(tab, 1000, "xtalk: probe done")
    if probes.expired_token:
        token, variant = expired_token(harness, prober)
        # expect="refusal": the checker's cue that a welcome or an event here is a probe_violation.
        tab = prober.open_tab(engine, token=token, probe="expired_token", variant=variant, expect="refusal")
        if tab is not None:
            # The server accepts first and authenticates after: give it time to refuse, then try
            # a request on whatever is left open (a correct server never answers it).
            waited = 0.0
            while tab.alive and waited < 5.0:
                sleep(0.1)
                waited += 0.1
            if tab.alive and tab.ready and tab.ws.is_open:
                prober.probe_request(tab, "expired_token", f"Probe from {prober.user}: stale token", variant=variant)
                prober.close_tab(tab, 1000, "xtalk: probe done")
    for i in range(probes.reconnect_storm):
        tab = prober.open_tab(engine, probe="reconnect_storm", probe_index=i)
        if tab is not None:
            prober.close_tab(tab, 1000, "xtalk: reconnect storm")
    if probes.session_takeover:
        take_over(harness, prober, victim, engine, sleep)
    rec.write({"kind": "probe", "t": rec.now(), "probe": "end", "user": prober.user})


def take_over(harness: Harness, prober: Session, victim: Session, engine: str | None,
              sleep: Callable[[float], Any]) -> None:
    """The prober connects naming the victim's live session, while the victim waits for an
    answer (aimed at: its request in flight has started), and watches what arrives."""
    rec = harness.recorder
    tabs = [tab for tab in victim.tabs if tab.alive and tab.ready and tab.session is not None]
    if not tabs:
        rec.error(prober.user, "probe", "session_takeover: the victim has no open connection with a session",
                  probe="session_takeover")
        return
    # Aim at a request the victim sends from now on, once it has started: then the rest of its
    # run is still to come when the takeover connects.
    before = {req for tab in tabs for req in tab.tracker.open_requests()}

    def fresh(tab: Tab) -> set[str]:
        return tab.tracker.started_requests() - before if tab.alive else set()

    waited = 0.0
    while waited < TAKEOVER_AIM and not any(fresh(tab) for tab in tabs):
        sleep(0.01)
        waited += 0.01
    target = next((tab for tab in tabs if fresh(tab)), next((tab for tab in tabs if tab.alive), tabs[0]))
    in_flight = fresh(target)
    tab = prober.open_tab(engine, session=target.session, probe="session_takeover", victim=victim.user,
                          victim_conn=target.conn)
    if tab is None:
        return
    watched = 0.0
    while watched < TAKEOVER_WATCH and tab.alive:
        if in_flight and not in_flight & target.tracker.open_requests():
            break  # the victim's request ended (on the victim's connection or by its deadline)
        sleep(0.1)
        watched += 0.1
    if tab.alive:
        # No before_close frames: they could end the very session this connection named.
        tab.ws.close(1000, "xtalk: probe done")
