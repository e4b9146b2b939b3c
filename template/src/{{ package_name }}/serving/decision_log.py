"""The decision log: one durable JSON line per served decision (the audit trail).

Durability: a response is sent only after its records are written and ``fdatasync``-ed, so
an acknowledged decision survives a SIGKILL or a power cut. To keep that cheap under load,
one writer thread does *group commit*: it takes every record queued since its last sync,
writes them in one call, syncs once, then wakes all their waiting requests together.
Under concurrency one sync covers many requests, so throughput is not bounded by disk sync
latency while durability is never traded away.

Files: ``<decision_log_dir>/decisions-<UTC yyyymmddThhmmss>-<pid>.jsonl``; a new file starts
when the current one passes ``decision_log_max_bytes`` (and one per process, so several
workers never interleave). Format (one object per line, one line per row of a request)::

    {"request_id": "4be0...", "row": 0, "ts": "2026-01-31T12:00:00.123456Z",
     "key_id": "web", "model_name": "churn_pilot", "model_version": "3",
     "inputs": {"age": 42, ...}, "output": {"prediction": 1, "probability": 0.83},
     "explanation": {"tenure_months": 0.91, ...}, "latency_ms": 0.41}

``key_id`` names the caller's key, never the key itself. Columns the data contract marks as
PII are replaced by ``sha256:<hex>`` of their value. ``<cli> audit`` searches these files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..data.schema import PII_COLUMNS

_STOP = object()
_PII = frozenset(PII_COLUMNS)


def protect(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as logged: PII columns hashed (the request contract never accepts them today;
    this keeps the log safe if a future contract does)."""
    if not _PII.intersection(inputs):
        return dict(inputs)
    return {
        k: ("sha256:" + hashlib.sha256(str(v).encode()).hexdigest() if k in _PII else v)
        for k, v in inputs.items()
    }


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DecisionLogError(RuntimeError):
    """The decision log cannot be written: no decision may be acknowledged."""


class DecisionLog:
    def __init__(
        self, directory: Path, max_bytes: int, on_commit: Callable[[int], None] | None = None
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._size = 0
        self.path: Path | None = None
        self.batches = 0
        self.records = 0
        self.sync_seconds = 0.0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open()
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then stop (called at shutdown, after requests drained)."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def append(self, lines: bytes) -> None:
        """Queue newline-terminated records; return once they are on disk."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((lines, loop, future))
        await future

    def _open(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        n = 0
        while True:
            suffix = f"-{n}" if n else ""
            path = self.directory / f"decisions-{stamp}-{os.getpid()}{suffix}.jsonl"
            if not path.exists():
                break
            n += 1
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        # The new file's directory entry must be durable too.
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.path, self._size = path, 0

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while True:  # everything that queued up while the last sync ran
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(item is _STOP for item in batch):
                stopping = True
                batch = [b for b in batch if b is not _STOP]
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[tuple[bytes, asyncio.AbstractEventLoop, Any]]) -> None:
        error: Exception | None = None
        try:
            if self._size >= self.max_bytes:
                os.close(self._fd)
                self._open()
            data = b"".join(item[0] for item in batch)
            started = time.perf_counter()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fdatasync(self._fd)
            self.sync_seconds += time.perf_counter() - started
            self._size += len(data)
            self.batches += 1
            self.records += len(batch)
            if self.on_commit is not None:
                self.on_commit(len(batch))
        except OSError as exc:
            error = DecisionLogError(f"decision log {self.path}: {exc.strerror or exc}")
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for _, loop, future in batch:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, futures, error)


def _resolve(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():  # cancelled by a timeout: the record is on disk anyway
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def encode(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


def normalize_ts(text: str) -> str:
    """An ISO 8601 time (naive means UTC) in the log's own format, for comparisons."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("decisions-*.jsonl"))


def read_records(directory: Path) -> Iterator[dict[str, Any]]:
    """Every record in every file, oldest file first; a torn last line is skipped."""
    for path in log_files(directory):
        with path.open("rb") as fh:
            for line in fh:
                if line.endswith(b"\n"):
                    yield orjson.loads(line)


def search(
    directory: Path,
    request_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    model_version: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Records matching every given filter (``since``/``until``: ISO 8601 UTC, inclusive)."""
    for record in read_records(directory):
        if request_id is not None and record.get("request_id") != request_id:
            continue
        if model_version is not None and record.get("model_version") != model_version:
            continue
        ts = str(record.get("ts", ""))
        if since is not None and ts < since:
            continue
        if until is not None and ts > until:
            continue
        yield record
