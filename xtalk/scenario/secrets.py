"""Where an auth strategy's secrets live, checked at load time, read only where they are used.

A scenario names secrets (an environment variable or a file), never holds them. ``check_auth``
proves before any user spawns that every secret the strategy needs is there, so a run never
fails at its 2,000th login; ``read_secret`` is what the client calls when it needs the value.
Messages name the variable or file and never print a value (not even a prefix or a length).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping

from xtalk.errors import UsageError
from xtalk.scenario.model import Auth

#: For each strategy: the secret it needs (None: optional), as (what, env field, file field).
_NEEDS: dict[str, tuple[str, str, str, bool]] = {
    "register": ("the account password", "password_env", "password_file", False),
    "login": ("the account password", "password_env", "password_file", True),
    "e2e_bypass": ("the e2e bypass key (header X-E2E-Bypass-Key)", "bypass_key_env", "bypass_key_file", True),
    "mint_jwt": ("the HS256 JWT signing secret", "jwt_secret_env", "jwt_secret_file", True),
}


def check_auth(auth: Auth, *, source: str, users: int,
               environ: Mapping[str, str] | None = None) -> None:
    """Raise ``UsageError`` unless every secret ``auth`` names is present (never printing one)."""
    env = os.environ if environ is None else environ
    if auth.strategy == "csv":
        _check_accounts(auth.accounts_csv, source=source, users=users)
        return
    what, env_field, file_field, _ = _NEEDS[auth.strategy]
    var = getattr(auth, env_field)
    path = getattr(auth, file_field)
    if var is not None and not env.get(var):
        state = "set but empty" if var in env else "unset"
        raise UsageError(
            f"the environment variable {var} to hold {what} (auth.{env_field} in {source})",
            f"{var} {state}",
            f"export {var}=... in the shell or CI job that runs xtalk (the value is never printed "
            f"or recorded), or name a file with auth.{file_field}",
        )
    if path is not None:
        _check_file(path, f"{what} (auth.{file_field} in {source})")


def read_secret(auth: Auth, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret ``auth.strategy`` uses (password, bypass key or JWT secret); ``None`` if the
    strategy takes none or leaves it optional and unset. Never log what this returns."""
    if auth.strategy not in _NEEDS:
        return None
    env = os.environ if environ is None else environ
    _, env_field, file_field, _ = _NEEDS[auth.strategy]
    var = getattr(auth, env_field)
    if var is not None:
        value = env.get(var)
        if not value:
            raise UsageError(f"{var} to be set", f"{var} unset", f"export {var}=... before running")
        return value
    path = getattr(auth, file_field)
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return None


def read_accounts(path: str) -> list[tuple[str, str]]:
    """``(email, password)`` rows of an accounts CSV (header ``email,password``)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [(row["email"].strip(), row["password"]) for row in csv.DictReader(handle)
                if row.get("email")]


def _check_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise UsageError(f"a readable file holding {what}", f"{path} (no such file)",
                         "create the file (keep it out of git) or fix the path; relative paths are "
                         "taken from the scenario file's folder")
    if not os.access(path, os.R_OK):
        raise UsageError(f"a readable file holding {what}", f"{path} (not readable)",
                         f"make it readable by this user: chmod u+r {path}")
    if os.path.getsize(path) == 0:
        raise UsageError(f"a file holding {what}", f"{path} (empty)", "write the secret into it")


def _check_accounts(path: str | None, *, source: str, users: int) -> None:
    if path is None:  # the validator already demands the key; this keeps the function total
        raise UsageError("auth.accounts_csv for strategy \"csv\"", f"none in {source}",
                         'set auth.accounts_csv = "accounts.csv"')
    what = f"accounts (auth.accounts_csv in {source})"
    _check_file(path, what)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            rows = sum(1 for row in reader if (row.get("email") or "").strip())
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"a UTF-8 CSV file of {what}", f"{path} ({type(error).__name__})",
                         "save it as UTF-8 text with a header line email,password") from None
    if "email" not in header or "password" not in header:
        raise UsageError(f"a header line with columns email,password in {path}",
                         # Not the line itself: without a header it is an account.
                         f"a first line of {len(header)} column(s) without both names",
                         "make the first line exactly: email,password")
    if rows < users:
        # Two harness users sharing one account are one server identity: the checker would see
        # every event of one as delivered to the other.
        raise UsageError(f"at least {users} accounts in {path} (one per user at the peak)",
                         f"{rows} accounts", f"add accounts or lower the users (--users {rows})")
