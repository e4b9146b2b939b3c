"""The decision log: one durable JSON line per served decision (the audit trail).

Durability: a response is sent only after its records are written and ``fdatasync``-ed, so
an acknowledged decision survives a SIGKILL or a power cut. To keep that cheap under load,
the log does *group commit*: while one write+sync runs in the writer thread, new records
queue up; the next write takes all of them at once, syncs once, and wakes all their waiting
requests together. A request that is alone (low traffic) is synced in place, sparing the
two thread wake-ups.
Under concurrency one sync covers many requests, so throughput is not bounded by disk sync
latency while durability is never traded away.

Files: ``<decision_log_dir>/decisions-<UTC yyyymmddThhmmss>-<pid>.jsonl``; a new file starts
when the current one passes ``decision_log_max_bytes`` (and one per process, so several
workers never interleave). Format (one object per line, one line per row of a request)::

    {"request_id": "4be0...", "ts": "2026-01-31T12:00:00.123456Z", "key_id": "web",
     "model_name": "churn_pilot", "model_version": "3", "latency_ms": 0.41, "row": 0,
     "inputs": {"<feature>": 42, ...}, "output": {"prediction": 1, "probability": 0.83},
     "explanation": {"<feature>": 0.91, ...}, "key": "<key>",
     "event_time": "2026-01-31T11:59:00Z"}

``key`` (the contract's entity key) and ``event_time`` appear when the request carried them;
they join outcomes to decisions (``<cli> outcomes ingest``) and are never model inputs. A key
the contract marks ``pii`` is logged as ``sha256:<hex>``, and outcomes are hashed the same way.
A shadow model's predictions go to ``shadow-*.jsonl`` beside these files (serving/shadow.py).

``key_id`` names the caller's key, never the key itself. Columns the data contract marks as
PII are replaced by ``sha256:<hex>`` of their value. ``<cli> audit`` searches these files.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from ..errors import PilotError


@cache
def _pii() -> frozenset[str]:
    # The contract (pandera, pandas) loads on the first write, not for `audit`'s reads.
    from ..data.schema import PII_COLUMNS

    return frozenset(PII_COLUMNS)


def _hash(value: Any) -> str:
    return "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()


@cache
def _key_is_pii() -> bool:
    from ..data.roles import KEY_IS_PII

    return KEY_IS_PII


def protect_key(value: Any) -> Any:
    """The entity key as logged: hashed when the contract marks it PII."""
    return _hash(value) if value is not None and _key_is_pii() else value


def protect(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """Inputs as logged: PII columns hashed (the request contract never accepts them today;
    this keeps the log safe if a future contract does)."""
    if _pii().isdisjoint(inputs):
        return inputs
    return {k: (_hash(v) if k in _pii() else v) for k, v in inputs.items()}


def protect_rows(rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """``protect`` for a request's rows, which share one model and so one set of columns."""
    if not rows or _pii().isdisjoint(rows[0]):
        return rows
    return [protect(r) for r in rows]


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
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-log")
        self._fd = -1
        self._size = 0
        self.path: Path | None = None
        self.batches = 0
        self.records = 0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open()

    async def aclose(self) -> None:
        """Finish the sync in progress and what is queued, then close (at shutdown)."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
        self.close()

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    async def append(self, lines: bytes, alone: bool = False) -> None:
        """Queue newline-terminated records; return once they are on disk.

        ``alone``: no other request is in flight. Then the sync runs right here, sparing two
        thread wake-ups (the lowest latency at low traffic); under concurrency, group commit.
        """
        if alone and self._flusher is None and not self._pending:
            try:
                self._commit(lines, 1)
            except Exception as exc:
                raise DecisionLogError(f"decision log {self.path}: {exc}") from None
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((lines, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        """Group commit: everything queued while the previous sync ran goes in the next one."""
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                data = b"".join(lines for lines, _ in batch)
                error: Exception | None = None
                try:
                    await loop.run_in_executor(self._writer, self._commit, data, len(batch))
                except Exception as exc:  # any failure: no decision in it may be acknowledged
                    error = DecisionLogError(f"decision log {self.path}: {exc}")
                for _, future in batch:
                    if future.done():  # cancelled by a timeout: the record is on disk anyway
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            self._flusher = None

    def _open(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        n = 0
        while True:
            suffix = f"-{n}" if n else ""
            path = self.directory / f"decisions-{stamp}-{writer_id()}{suffix}.jsonl"
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

    def _commit(self, data: bytes, requests: int) -> None:
        """In the writer thread: rotate if due, write, fdatasync."""
        if self._size >= self.max_bytes:
            os.close(self._fd)
            self._open()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fdatasync(self._fd)
        self._size += len(data)
        self.batches += 1
        self.records += requests
        if self.on_commit is not None:
            self.on_commit(requests)


def encode(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


def encode_decisions(common: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """One line per row: the request's common fields, ``row`` (its index), the row's fields.

    The common part is encoded once per request, not once per row (batches stay cheap).
    """
    head = orjson.dumps(common)[:-1]  # without its closing brace
    return b"".join(
        b'%s,"row":%d,%s\n' % (head, i, orjson.dumps(row)[1:]) for i, row in enumerate(rows)
    )


def normalize_ts(text: str) -> str:
    """An ISO 8601 time (naive means UTC) in the log's own format, for comparisons."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def writer_id() -> str:
    """Host and process: replicas sharing one volume never write the same file."""
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


def log_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("decisions-*.jsonl"))


def read_records(directory: Path) -> Iterator[dict[str, Any]]:
    """Every record in every file, oldest file first; a torn last line is skipped."""
    for path in log_files(directory):
        with path.open("rb") as fh:
            for line in fh:
                if line.endswith(b"\n"):
                    yield orjson.loads(line)


@dataclass(frozen=True)
class Query:
    """An audit question: a record matches when every given filter does."""

    request_id: str | None = None
    since: str | None = None  # ISO 8601 UTC, inclusive
    until: str | None = None
    model_version: str | None = None


def search(directory: Path, query: Query) -> Iterator[dict[str, Any]]:
    """Records matching every filter of ``query``, oldest file first."""
    for record in read_records(directory):
        if query.request_id is not None and record.get("request_id") != query.request_id:
            continue
        if query.model_version is not None and record.get("model_version") != query.model_version:
            continue
        ts = str(record.get("ts", ""))
        if query.since is not None and ts < query.since:
            continue
        if query.until is not None and ts > query.until:
            continue
        yield record


class AuditError(PilotError):
    """A bad `audit` query (a time that is not ISO 8601, no log to search), as one line."""


def audit(directory: Path, query: Query) -> Iterator[dict[str, Any]]:
    """``search`` with the times as a person gives them (ISO 8601, naive means UTC).

    Checked before anything is read: a bad time or a missing log raises ``AuditError``.
    """
    bounds: dict[str, str | None] = {}
    for name, value in (("--since", query.since), ("--until", query.until)):
        try:
            bounds[name] = normalize_ts(value) if value else None
        except ValueError:
            raise AuditError(f"{name} '{value}' is not an ISO 8601 time") from None
    if not log_files(directory):
        raise AuditError(f"no decision log under {directory}")
    return search(directory, replace(query, since=bounds["--since"], until=bounds["--until"]))
