"""The one error type of batch scoring: a single line naming the input and the problem."""

from __future__ import annotations

from ..errors import PilotError


class BatchError(PilotError):
    """A batch problem (bad SOURCE or DEST, no model, a refused resume), as one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
