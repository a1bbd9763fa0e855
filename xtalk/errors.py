"""Errors meant for people: what was expected, what was found, how to fix it.

A ``UsageError`` ends a command with exit status 3 and its message, never a traceback. Raise it
for anything the user (or the server they pointed us at) got wrong before a run could start.
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_INCONCLUSIVE = 2
EXIT_USAGE = 3


class UsageError(Exception):
    """A configuration, usage or environment mistake; the message is shown as is."""

    def __init__(self, expected: str, found: str, fix: str) -> None:
        self.expected = expected
        self.found = found
        self.fix = fix
        super().__init__(f"expected {expected} but got {found}; {fix}")

    @property
    def message(self) -> str:
        return str(self)
