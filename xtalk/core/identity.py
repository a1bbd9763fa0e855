"""Identities: whom the auth service vouched for, and whether the server agrees (``identity_mismatch``).

Every identity finding is decided here, by ``Identities.judge``, whatever carried the identity:

- a ``login`` whose identity already belongs to another harness user: two users collapse into one
  server identity (judged on full ids; two ids that share their first 8 characters are two ids);
- a welcome whose ``user_id`` (full, or its first characters followed by the profile's short-id
  suffix, ``abcd1234...``) is not the logged-in user's, or a full welcome id the server already
  gave another user;
- an agent event stamped with a ``user_id`` that is nobody's in the run (``demo-user-001``) and
  is not the receiver's own (an id that is another harness user's is a cross-user kind, decided
  by ``attribution``).

A collapsed identity is no evidence of ownership any more: ``user_of`` forgets it, so events
stamped with it name nobody.
"""

from __future__ import annotations

from enum import Enum

from xtalk.core.anomaly import AnomalyKind, Explanation, Finding
from xtalk.core.explain import describe_recv
from xtalk.core.ids import ConnId, Identity, UserName


class Source(str, Enum):
    LOGIN = "login"
    WELCOME = "welcome"
    EVENT = "event"


def same_identity(shown: str, identity: str, suffix: str) -> bool:
    """Is ``shown`` the identity, in full or as a prefix followed by the short-id suffix?"""
    if shown == identity:
        return True
    if suffix and shown.endswith(suffix):
        prefix = shown[: -len(suffix)]
        return bool(prefix) and identity.startswith(prefix)
    return False


class Identities:
    """The logins of the run, and the one judge of what the server shows of them."""

    def __init__(self, short_id_suffix: str) -> None:
        self.suffix = short_id_suffix
        self.identity: dict[UserName, Identity] = {}  # user → the identity it logged in as (latest)
        self.user_of: dict[Identity, UserName] = {}  # identity → its one user (collapsed ones removed)
        self.collapsed: set[Identity] = set()
        self.welcome_ids: dict[str, UserName] = {}  # full ids shown in welcomes → the user shown them

    def users(self) -> set[UserName]:
        return set(self.identity)

    def named(self, shown: str | None) -> UserName | None:
        """The harness user whose identity ``shown`` is, if exactly one user has it."""
        return self.user_of.get(shown) if shown else None  # type: ignore[call-overload]  # (no NewType call)

    # ---- the judge ------------------------------------------------------------------------

    def judge(self, source: Source, user: UserName, shown: str) -> tuple[str, UserName | None] | None:
        """Why ``shown`` (from ``source``) contradicts ``user``'s identity, and whose identity it
        is when it is another user's; None when it agrees."""
        if source is Source.LOGIN:
            known = self.user_of.get(Identity(shown))
            if known is None and Identity(shown) not in self.collapsed:
                return None
            if known == user:
                return None
            return (
                f"the auth service vouched for identity {shown} for {user},\n"
                f"but it already belongs to {known or 'another user'}: two users collapse into one identity.",
                known,
            )
        identity = self.identity.get(user)
        if identity is None:
            return None  # no login recorded for this user: nothing to compare with
        short = bool(self.suffix) and shown.endswith(self.suffix)
        if source is Source.WELCOME:
            if not same_identity(shown, identity, self.suffix):
                return f"the welcome names user_id {shown!r}, but {user} logged in as {identity}", None
            earlier = None if short else self.welcome_ids.get(shown)
            if earlier is not None and earlier != user:
                return f"the welcome names {shown!r}, the identity the server already gave {earlier}", earlier
            return None
        if self.named(shown) is not None or same_identity(shown, identity, self.suffix):
            return None  # a harness user's id (attribution's business), or the receiver's own
        return f"E is stamped user_id {shown!r}, which is nobody's in this run,\nwhile {user} logged in as {identity}.", None

    # ---- what the records say ---------------------------------------------------------------

    def login(self, user: UserName, identity: Identity, t: float, line: int) -> Finding | None:
        verdict = self.judge(Source.LOGIN, user, identity)
        previous = self.identity.get(user)
        self.identity[user] = identity
        if verdict is None:
            if previous is None or previous == identity or self.user_of.get(identity) == user:
                self.user_of.setdefault(identity, user)
            return None
        why, known = verdict
        self.user_of.pop(identity, None)
        self.collapsed.add(identity)
        return Finding(
            AnomalyKind.IDENTITY_MISMATCH,
            (line,),
            Explanation(((("L", f"login of {user} at {t:.3f} s (history line {line})")),), why),
            t,
            user=user,
            owner=known,
        )

    def welcome(
        self, user: UserName, conn: ConnId, shown: str, type_name: str, t: float, line: int, frame: object
    ) -> Finding | None:
        verdict = self.judge(Source.WELCOME, user, shown)
        if verdict is None:
            if user in self.identity and not (self.suffix and shown.endswith(self.suffix)):
                self.welcome_ids.setdefault(shown, user)
            return None
        why, earlier = verdict
        return Finding(
            AnomalyKind.IDENTITY_MISMATCH,
            (line,),
            Explanation(
                (("W", describe_recv(type_name, user, conn, t, line)),),
                why + ":\nthe server's idea of this connection's user is not the user who logged in.",
            ),
            t,
            user=user,
            owner=earlier,
            conn=conn,
            evidence=((line, frame),),
        )
