"""Lineage: where a training table came from, stored next to it and attached to the run.

``data/processed/lineage.json`` records per source the URI (never credentials), the query or
path and its row counts, plus the time window, a content hash of the table, the schema
version and the code version (git sha and whether the tree was dirty).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..settings import PROJECT_ROOT, Settings
from .schema import SCHEMA_VERSION


class ContentHash:
    """``content_hash`` computed chunk by chunk: the same hash as the whole table's, as long as
    the chunks come in the table's order with the same columns and dtypes."""

    def __init__(self) -> None:
        self._digest: Any = None

    def update(self, frame: pd.DataFrame) -> None:
        # Text is text whether pandas holds it as object or str: hash one canonical form.
        text = [
            c
            for c in frame.columns
            if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
        ]
        canonical = frame.astype(dict.fromkeys(text, "str"))
        if self._digest is None:
            self._digest = hashlib.sha256(json.dumps([str(c) for c in canonical.columns]).encode())
            self._digest.update(json.dumps([str(t) for t in canonical.dtypes]).encode())
        self._digest.update(pd.util.hash_pandas_object(canonical, index=False).to_numpy().tobytes())

    def hexdigest(self) -> str:
        digest = self._digest if self._digest is not None else hashlib.sha256(b"[]")
        return "sha256:" + str(digest.hexdigest())


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of the table's columns and values (not of a file's bytes): same data, same hash."""
    digest = ContentHash()
    digest.update(frame)
    return digest.hexdigest()


def code_version(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(  # noqa: S603 - fixed git arguments
                ["git", *args],  # noqa: S607 - git from PATH, like any developer tool
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_sha": sha or "uncommitted", "dirty": bool(status) if sha else True}


@dataclass
class Lineage:
    sources: list[dict[str, Any]]
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    time_window: dict[str, str | None]
    content_hash: str
    pii: dict[str, str]
    schema_version: str = SCHEMA_VERSION
    code_version: dict[str, Any] = field(default_factory=code_version)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    output: str = ""
    quarantine: str | None = None
    # Rows without a label (validated for scoring, not trained on) and where they were written.
    rows_unlabeled: int = 0
    unlabeled: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_lineage(settings: Settings) -> dict[str, Any] | None:
    """The lineage of the current training table, if an ingestion wrote one."""
    path = settings.lineage_file
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
