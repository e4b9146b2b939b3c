"""The one error type of the data layer: a single line naming the source and the problem."""

from __future__ import annotations

from typing import Literal

from ..errors import PilotError

Kind = Literal["unreachable", "auth", "malformed", "empty", "quality", "config"]


class DataError(PilotError):
    """A data problem, reported as one line naming the source; ``kind`` classifies it."""

    def __init__(self, message: str, kind: Kind = "malformed") -> None:
        super().__init__(message)
        self.kind: Kind = kind
