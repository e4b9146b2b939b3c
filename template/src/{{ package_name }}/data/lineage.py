"""Lineage: where a training table came from, stored next to it and attached to the run.

``data/processed/lineage.json`` records per source the URI (never credentials), the query or
path and its row counts, plus the time window, a content hash of the table, the schema
version and the code version (git sha and whether the tree was dirty).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..settings import PROJECT_ROOT, Settings
from .schema import SCHEMA_VERSION

# The hash is of values, not of how they are held: each column is cast to one canonical Arrow
# type, whether it came as an Arrow chunk of the Parquet path, a pandas chunk of another source
# or a whole pandas frame read back from the table (text of any kind, categoricals and
# dictionaries as large_string; integers as int64; floats as float64 with NaN as null;
# dates and timestamps as int64 nanoseconds, durations as nanoseconds).
_TEXT = pa.large_string()
# Recorded with each hash: a record from an earlier definition (0.2.0's, or an earlier 0.3.0
# build's) still describes its table, but its hash is not one this code can reproduce.
CONTENT_HASH_DEFINITION = "arrow-canonical-1"


def _canonical(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    kind = values.type
    if pa.types.is_dictionary(kind):
        return _canonical(values.cast(kind.value_type))
    if pa.types.is_null(kind):  # an all-missing text column, as pandas infers it
        return values.cast(_TEXT)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return values.cast(_TEXT)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return values.cast(pa.large_binary())
    if pa.types.is_signed_integer(kind) or pa.types.is_unsigned_integer(kind):
        try:
            return values.cast(pa.int64())
        except pa.ArrowInvalid:  # a uint64 above int64: kept as it is
            return values
    if pa.types.is_floating(kind):
        values = values.cast(pa.float64())
        if values.null_count < len(values) and pc.any(pc.is_nan(values)).as_py():
            # pandas holds a missing float as NaN, Arrow as null: one form
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
        return values
    if pa.types.is_date(kind):
        return values.cast(pa.timestamp("ns"))
    if pa.types.is_timestamp(kind):
        try:
            return values.cast(pa.timestamp("ns", kind.tz))
        except pa.ArrowInvalid:  # outside the nanosecond range: its own unit
            return values
    if pa.types.is_duration(kind):
        try:
            return values.cast(pa.duration("ns"))
        except pa.ArrowInvalid:
            return values
    if pa.types.is_boolean(kind) or pa.types.is_decimal(kind):
        return values
    return pa.array([None if v is None else str(v) for v in values.to_pylist()], _TEXT)


def _arrow(column: pd.Series) -> pa.Array:
    """A pandas column as Arrow (text of mixed Python types as its ``str``, as before)."""
    try:
        return pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array([None if _missing(v) else str(v) for v in column], _TEXT)


def _missing(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


class _ColumnHash:
    """One column's digest, fed array by array: the same whatever the chunking, because it
    hashes three streams that concatenate across chunks (the positions of nulls, the value
    lengths of variable-width values, the value bytes with nulls zeroed)."""

    def __init__(self, kind: pa.DataType) -> None:
        self.type = kind
        self.nulls = hashlib.sha256()
        self.lengths = hashlib.sha256()
        self.data = hashlib.sha256()

    def update(self, values: pa.Array, start: int) -> None:
        if values.null_count:
            where = pc.indices_nonzero(values.is_null()).cast(pa.int64())
            self.nulls.update(pc.add(where, start).to_numpy().data)
        if pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type):
            if values.null_count:
                empty = "" if pa.types.is_large_string(values.type) else b""
                values = values.fill_null(pa.scalar(empty, values.type))
            _, offsets, data = values.buffers()
            ends = np.frombuffer(offsets, np.int64, len(values) + 1, values.offset * 8)
            self.lengths.update(np.diff(ends).data)
            if data is not None:
                self.data.update(memoryview(data)[ends[0] : ends[-1]])
            return
        self.data.update(_numbers(values).data)


def _numbers(values: pa.Array) -> np.ndarray[Any, Any]:
    """Fixed-width values as contiguous numbers, nulls as 0 (their slots hold anything)."""
    kind = values.type
    if pa.types.is_decimal(kind):  # a decimal's bytes, nulls zeroed
        values = values.fill_null(pa.scalar(0).cast(kind)) if values.null_count else values
        width = kind.byte_width
        return np.frombuffer(
            values.buffers()[1], np.uint8, len(values) * width, values.offset * width
        )
    if pa.types.is_boolean(kind):  # bits do not concatenate across chunks: a byte each
        values = values.cast(pa.uint8())
    elif pa.types.is_timestamp(kind) or pa.types.is_duration(kind):
        values = values.view(pa.int64())
    if values.null_count:
        values = values.fill_null(pa.scalar(0, values.type))
    numbers: np.ndarray[Any, Any] = np.ascontiguousarray(values.to_numpy(zero_copy_only=False))
    return numbers


class ContentHash:
    """``content_hash`` computed chunk by chunk (Arrow tables or pandas frames, in the table's
    order, in any chunking): the same hash as the whole table's.

    Chunks are hashed on a background thread, one at a time (Arrow casts and sha256 over
    buffers release the GIL), while the caller reads and validates the next chunk; a failure
    surfaces at the next ``update`` or at ``hexdigest``."""

    def __init__(self) -> None:
        self._names: list[str] | None = None
        self._columns: list[_ColumnHash] = []
        self._rows = 0
        self._thread: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def update(self, rows: pd.DataFrame | pa.Table) -> None:
        self._wait()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="content-hash")
        self._pending = self._thread.submit(self._update, rows)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _update(self, rows: pd.DataFrame | pa.Table) -> None:
        if isinstance(rows, pd.DataFrame):
            names = [str(c) for c in rows.columns]
            arrays = [_canonical(_arrow(rows.iloc[:, i])) for i in range(rows.shape[1])]
        else:
            names = list(rows.column_names)
            arrays = [_canonical(column) for column in rows.columns]
        if self._names is None:
            self._names = names
            self._columns = [_ColumnHash(values.type) for values in arrays]
        elif names != self._names:
            raise ValueError(f"content hash: columns {names} after {self._names}")
        for column, values in zip(self._columns, arrays, strict=True):
            if values.type != column.type:  # a later chunk's all-null text, say
                values = values.cast(column.type)
            chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
            start = self._rows
            for chunk in chunks:
                column.update(chunk, start)
                start += len(chunk)
        self._rows += len(rows)

    def hexdigest(self) -> str:
        self._wait()
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None
        described = {
            "columns": self._names or [],
            "types": [str(c.type) for c in self._columns],
            "rows": self._rows,
        }
        digest = hashlib.sha256(json.dumps(described).encode())
        for column in self._columns:
            for stream in (column.nulls, column.lengths, column.data):
                digest.update(stream.digest())
        return "sha256:" + digest.hexdigest()


def content_hash(frame: pd.DataFrame | pa.Table) -> str:
    """A hash of the table's columns and values (not of a file's bytes, nor of how pandas or
    Arrow holds them): same data, same hash."""
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
    content_hash_definition: str = CONTENT_HASH_DEFINITION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_lineage(settings: Settings) -> dict[str, Any] | None:
    """The lineage of the current training table, if an ingestion wrote one."""
    path = settings.lineage_file
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
