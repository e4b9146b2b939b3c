"""The one small interface every source kind implements."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd


class Source(Protocol):
    """A system the pilot reads customers from.

    ``read`` returns the rows as the source holds them (its own column names; the ingestion
    maps and validates them); ``describe`` says where they came from, without credentials, for
    lineage; ``probe`` makes one cheap authenticated round trip and returns its latency in
    seconds, for `data check`. Every failure is a ``DataError`` naming the source.
    """

    name: str

    def read(self) -> pd.DataFrame: ...

    def describe(self) -> dict[str, Any]: ...

    def probe(self) -> float: ...
