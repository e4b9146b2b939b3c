"""Batch records: one JSON file per batch, the batch counterpart of the decision log.

A record says what was scored (input URI without credentials, content hash, row counts), with
what (model name and version), when (start, end), by whom and why, and where the output and
the quarantine went. `audit --batch ID` prints it; governance reads them as evidence.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..atomic import write_json
from ..settings import Settings
from .errors import BatchError

BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RECORD_VERSION = "1"


def check_batch_id(batch_id: str) -> str:
    if not BATCH_ID.match(batch_id):
        raise BatchError(
            f"--batch-id '{batch_id}': use letters, digits, '.', '_' or '-' (at most 128)"
        )
    return batch_id


def records_dir(settings: Settings) -> Path:
    return settings.path(settings.batch.records_dir)


def write_record(settings: Settings, record: dict[str, Any]) -> Path:
    path = records_dir(settings) / f"{record['batch_id']}.json"
    write_json(path, {"record_version": RECORD_VERSION} | record)
    return path


def read_records(settings: Settings, batch_id: str | None = None) -> list[dict[str, Any]]:
    """The batch records, oldest first (``batch_id``: only that one; none found is an error)."""
    directory = records_dir(settings)
    paths = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if batch_id is not None:
        paths = [p for p in paths if p.stem == batch_id]
    records = [json.loads(p.read_text()) for p in paths]
    if not records:
        what = f"batch '{batch_id}'" if batch_id else "batch"
        raise BatchError(f"no {what} record under {directory}")
    return sorted(records, key=lambda r: str(r.get("started_at", "")))
