"""Accounts and threads, in memory: who the users are and which threads each one owns.

Invariants: every account has a UUID4 id, except e2e accounts (``e2e-<local part>``) and the dev
user (``dev-user-001``), as Netra mints them. A thread has exactly one owner, fixed at creation.
``resolve_thread`` never hands a user another user's thread: an unknown or foreign id falls back
to the caller's most recent thread (created on demand), which is what Netra does silently.
Passwords are kept only as salted SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field


@dataclass(slots=True)
class Account:
    id: str
    email: str
    name: str
    salt: bytes = field(repr=False)
    digest: bytes = field(repr=False)


def _digest(salt: bytes, password: str) -> bytes:
    return hashlib.sha256(salt + password.encode()).digest()


class Directory:
    """The backend's users and threads. Single event loop: no locks needed."""

    def __init__(self) -> None:
        self._by_email: dict[str, Account] = {}
        self._thread_owner: dict[str, str] = {}
        self._threads_of: dict[str, list[str]] = {}

    # accounts

    def register(self, email: str, password: str, name: str = "") -> Account | None:
        """A new account, or None when the email is taken."""
        key = email.strip().lower()
        if key in self._by_email:
            return None
        salt = secrets.token_bytes(16)
        account = Account(str(uuid.uuid4()), key, name or key, salt, _digest(salt, password))
        self._by_email[key] = account
        return account

    def login(self, email: str, password: str) -> Account | None:
        account = self._by_email.get(email.strip().lower())
        if account is None:
            return None
        if not hmac.compare_digest(account.digest, _digest(account.salt, password)):
            return None
        return account

    def account_with_id(self, email: str, user_id: str, name: str = "") -> Account:
        """The account for a fixed id (e2e and dev logins), created on first use."""
        key = email.strip().lower()
        account = self._by_email.get(key)
        if account is None or account.id != user_id:
            account = Account(user_id, key, name or key, b"", b"")
            self._by_email[key] = account
        return account

    def find(self, email: str) -> Account | None:
        return self._by_email.get(email.strip().lower())

    # threads

    def create_thread(self, owner: str) -> str:
        thread_id = f"thread_{secrets.token_hex(8)}"
        self._thread_owner[thread_id] = owner
        self._threads_of.setdefault(owner, []).append(thread_id)
        return thread_id

    def owner_of(self, thread_id: str) -> str | None:
        return self._thread_owner.get(thread_id)

    def resolve_thread(self, user_id: str, requested: str | None) -> str:
        """The thread a request of ``user_id`` runs in: the requested one if the user owns it,
        else the user's latest thread (a new one if the user has none)."""
        if requested and self._thread_owner.get(requested) == user_id:
            return requested
        threads = self._threads_of.get(user_id)
        if threads:
            return threads[-1]
        return self.create_thread(user_id)
