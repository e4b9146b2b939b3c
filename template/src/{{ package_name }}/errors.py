"""The pilot's one error base class.

Every failure a user can cause or fix (bad settings, an unreachable source, a refused
promotion, a missing champion...) is a ``PilotError`` whose message is one line naming the
input and the problem. The CLI prints it and exits 1; anything else is a bug and keeps its
traceback. This module imports nothing, so catching it costs nothing at start-up.
"""

from __future__ import annotations


class PilotError(Exception):
    """A known failure, reported as one line naming the input and the problem."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line


# Exceptions raised by MLflow (e.g. an unreachable tracking server) are known failures too;
# they are recognised by their module so that the CLI never imports MLflow to catch them.
FOREIGN_KNOWN = ("mlflow.",)


def is_known(exc: BaseException) -> bool:
    """True for errors that deserve one line rather than a traceback."""
    if isinstance(exc, PilotError):
        return True
    return any(type(exc).__module__.startswith(prefix) for prefix in FOREIGN_KNOWN)
