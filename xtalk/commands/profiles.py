"""``xtalk profiles``: the shipped wire profiles, or one profile file validated and summarised.

With no argument it lists the profiles that ship with xtalk (name, transport, auth strategies,
whether the embedded reference backend speaks it). With a name or a path it reads the profile
the way ``xtalk run`` would (every mistake is the same teaching error, exit 3) and prints what
it understood: how it connects and logs in, the request kinds, which frames are which phase.
"""

from __future__ import annotations

import argparse

from xtalk.errors import EXIT_PASS
from xtalk.profiles import load_profile, shipped
from xtalk.profiles.model import WireProfile

HELP = "list the shipped wire profiles, or validate and summarise a profile file"
DESCRIPTION = """\
A wire profile says how to talk to one kind of backend and how to read what it sends: transport
(JSON or Socket.IO over a WebSocket), login and how the credential travels, how sessions are
named, the request frame, which received frames are which lifecycle phase, where ids live.
docs/PROFILES.md documents every key, with a worked example. A scenario names its profile in
[run] profile (a shipped name, or a path to a .toml file).

examples:
  xtalk profiles                        # the shipped profiles
  xtalk profiles chainlit               # what the chainlit profile says
  xtalk profiles ./mybackend.toml       # validate a profile you wrote (exit 3 on a mistake)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", nargs="?", default=None, metavar="NAME_OR_PATH",
                        help="a shipped profile's name or a profile file to validate and summarise")


def _line(profile: WireProfile) -> str:
    transport = profile.transport.kind
    strategies = ", ".join(profile.auth.strategies)
    backend = "  (the embedded reference backend speaks it)" if profile.reference_backend else ""
    return f"  {profile.name:<12} {transport:<9} auth: {strategies:<38}{backend}\n  {'':<12} {profile.description}"


def summary(profile: WireProfile) -> list[str]:
    t, a, core = profile.transport, profile.auth, profile.core
    lines = [f"profile {profile.name} ({profile.source})", f"  {profile.description}" if profile.description else ""]
    query = "&".join(f"{k}={v}" for k, v in t.query)
    lines.append(f"  transport   {t.kind} on {t.path}{'?' + query if query else ''}"
                 + (f", engine paths via ?{t.engine_param}=: {', '.join(t.engines)}" if t.engines else ""))
    lines.append(f"  sessions    {'named by the client ({session}): the session_takeover probe applies' if t.names_sessions else 'not named by the client'}")
    where = ("a cookie " + a.token_field) if a.token_from == "cookie" else ("the JSON field " + a.token_field)
    carried = [name for name in ("query", "subprotocol", "header", "cookie", "first message")
               if (name == "query" and any("{token}" in v for _, v in t.query))
               or (name == "subprotocol" and any("{token}" in s for s in t.subprotocols))
               or (name == "header" and any("{token}" in v for _, v in t.headers))
               or (name == "cookie" and a.cookie) or (name == "first message" and a.first_message)]
    lines.append(f"  auth        strategies {', '.join(a.strategies)}; the login answers with {where}; "
                 f"the socket carries it by {', '.join(carried) or 'nothing'}; identity: "
                 + (f"claim {a.identity_claim}" if a.identity_claim else "the answer's field"))
    lines.append(f"  thread      {'POST ' + profile.thread.path + ' before the first request' if profile.thread else 'named by the server'}")
    for kind in profile.requests:
        echo = f", echoes the client message id at {'.'.join(kind.echo)}" if kind.echo else ""
        lines.append(f"  request     {kind.name}{' (default)' if kind is profile.requests[0] else ''}{echo}")
    phases: dict[str, list[str]] = {}
    for name, kind in core.types.items():
        phases.setdefault(kind.value, []).append(name)
    for rule in core.rules:
        condition = " and ".join(f"{'.'.join(c.paths[0]) if c.paths else '?'} {c.op}"
                                 + (f" {c.value!r}" if c.value is not None else "") for c in rule.conditions)
        phases.setdefault(rule.kind.value, []).append(f"{rule.type}" + (f" [{condition}]" if condition else ""))
    for kind_name, names in phases.items():
        lines.append(f"  {kind_name:<15} {', '.join(names)}")
    return [line for line in lines if line]


def run(args: argparse.Namespace) -> int:
    if args.profile:
        print("\n".join(summary(load_profile(args.profile))))
        return EXIT_PASS
    print("shipped profiles (a scenario names one in [run] profile; default netra):")
    for name in shipped():
        print(_line(load_profile(name)))
    print("\nxtalk profiles NAME_OR_PATH shows one; docs/PROFILES.md says how to write one.")
    return EXIT_PASS
