"""The error types of the package and the exit codes they map to.

Exit codes (documented in the README):
  0 success, 1 user-facing error, 2 usage error (Click), 3 unexpected error (crash log),
  130 interrupted.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2
EXIT_CRASH = 3
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """Something the user can fix: the message says what is wrong and how to fix it."""


class ConfigError(UserError):
    """supervisor.yaml (or an override) is invalid."""


class AlreadyRunning(UserError):
    """Another supervisor holds the lock on this home."""


class StateCorrupt(UserError):
    """A state file could not be parsed; it was moved aside."""


class TransitionError(Exception):
    """A forbidden item state transition was attempted: a bug, never a user error."""


class ChainHalted(Exception):
    """Too many items failed in a row: the chain stops and a person should look."""


class UsageLimited(Exception):
    """The agent's subscription hit its usage limit: the chain waits until `until` (epoch)."""

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message)
        self.until = until


class StopRequested(Exception):
    """state/STOP appeared while a step was running."""
