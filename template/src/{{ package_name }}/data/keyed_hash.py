"""HMAC-SHA256 of many short values, hashed by worker processes while this one goes on.

hashlib holds the GIL while it hashes a short value (it lets go only above 2 KiB), so threads
cannot share the work: a large batch of values (``SPREAD_FROM`` and more) is split between
``cpu_count`` worker processes, and ``macs_later`` returns at once. The caller validates the
next chunk meanwhile, and its reading, writing and hashing threads get the GIL they need
(while this process hashed a share of its own, they waited for it). The module
imports nothing beyond the standard library, because it is also the worker itself
(``python -m <package>.data.keyed_hash``): a worker starts in a few milliseconds, on the first
large batch of a run, and ends with the run. A worker that fails is never waited on for an
answer: its share is hashed here instead, to the same values.

Values travel as Arrow lays out binary: one buffer of bytes and ``count + 1`` int64 offsets.
"""

from __future__ import annotations

import atexit
import binascii
import hashlib
import itertools
import os
import struct
import subprocess
import sys
import threading
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

_BLOCK = 64  # SHA-256's block size: HMAC pads (or first hashes) its key to this length
HEX = 2 * hashlib.sha256().digest_size  # a digest's size as hex text
SPREAD_FROM = 50_000  # values in one batch from which workers hash it
MAX_PROCESSES = 4  # workers at most
_HEAD = struct.Struct("<qqq")  # key length, values, data length


def macs(key: bytes, data: bytes | memoryview, offsets: Sequence[int]) -> bytes:
    """The HMAC-SHA256 digests of the values ``data[offsets[i]:offsets[i + 1]]`` as hex text,
    end to end (``HEX`` bytes each; hexed where they are hashed, in the workers). RFC 2104
    spelled out: the padded key's two SHA-256 states are computed once and copied per value
    (a third of ``hmac``'s cost per call)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    # one plain loop over local names: a third less time per value than map over a closure
    inner_copy, outer_copy = inner.copy, outer.copy
    out: list[bytes] = []
    append = out.append
    ends = iter(offsets)
    start = next(ends)
    for end in ends:
        step = inner_copy()
        step.update(data[start:end])
        done = outer_copy()
        done.update(step.digest())
        append(done.digest())
        start = end
    return binascii.hexlify(b"".join(out))


def macs_later(key: bytes, data: bytes | memoryview, offsets: Sequence[int]) -> Callable[[], bytes]:
    """``macs`` of a large batch started on the workers, returned by the call this returns
    (which waits for them); a small batch is hashed here and now. ``data`` must not change
    until then."""
    count = len(offsets) - 1
    workers = _WORKERS.get() if count >= SPREAD_FROM else []
    if not workers:
        digests = macs(key, data, offsets)
        return lambda: digests
    bounds = [count * i // len(workers) for i in range(len(workers) + 1)]
    shares = list(itertools.pairwise(bounds))
    asked = [
        w.ask(key, data, offsets[a : b + 1]) for w, (a, b) in zip(workers, shares, strict=True)
    ]

    def collect() -> bytes:
        out = []
        for answer, (a, b) in zip(asked, shares, strict=True):
            digests = answer.result()
            out.append(digests if digests is not None else macs(key, data, offsets[a : b + 1]))
        return b"".join(out)

    return collect


class _Worker:
    """One worker process, its pipes and the thread that talks to it: batches are sent and
    their digests read in the order asked, so several may wait their turn. ``None`` for an
    answer: the worker failed."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.failed = False
        self._pipes = ThreadPoolExecutor(1, thread_name_prefix="keyed-hash")

    def ask(
        self, key: bytes, data: bytes | memoryview, offsets: Sequence[int]
    ) -> Future[bytes | None]:
        return self._pipes.submit(self._answer, key, data, offsets)

    def idle(self) -> None:
        """Wait for the batches asked (their answers, or None when the worker failed)."""
        self._pipes.shutdown(wait=True)

    def _answer(self, key: bytes, data: bytes | memoryview, offsets: Sequence[int]) -> bytes | None:
        if self.failed or not self.send(key, data, offsets):
            return None
        return self.receive(len(offsets) - 1)

    def send(self, key: bytes, data: bytes | memoryview, offsets: Sequence[int]) -> bool:
        start, end = offsets[0], offsets[-1]
        pipe = self.process.stdin
        try:
            assert pipe is not None
            pipe.write(_HEAD.pack(len(key), len(offsets) - 1, end - start))
            pipe.write(key)
            pipe.write(array("q", offsets).tobytes())
            pipe.write(memoryview(data)[start:end])
            pipe.flush()
        except (OSError, ValueError):
            self.failed = True
        return not self.failed

    def receive(self, count: int) -> bytes | None:
        pipe = self.process.stdout
        try:
            assert pipe is not None
            answer = _read(pipe, count * HEX)
        except (OSError, ValueError):
            answer = None
        if answer is None:
            self.failed = True
        return answer


class _Workers:
    """The workers of this process: started on first use, ended at exit; a failed one is
    not used again."""

    def __init__(self) -> None:
        self._workers: list[_Worker] | None = None
        self._lock = threading.Lock()

    def get(self) -> list[_Worker]:
        with self._lock:
            if self._workers is None:
                count = min(os.cpu_count() or 1, MAX_PROCESSES)
                try:
                    self._workers = [_Worker() for _ in range(count)]
                except OSError:  # no processes to be had: this process hashes alone
                    self._workers = []
                atexit.register(self.close)
            self._workers = [w for w in self._workers if not w.failed]
            return list(self._workers)

    def close(self) -> None:
        for worker in self._workers or []:
            worker.idle()
            try:
                if worker.process.stdin is not None:
                    worker.process.stdin.close()  # end of input: the worker returns
                worker.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                worker.process.kill()


_WORKERS = _Workers()


def _read(pipe: IO[bytes], size: int) -> bytes | None:
    """Exactly ``size`` bytes, or None at an early end."""
    parts, left = [], size
    while left:
        part = pipe.read(left)
        if not part:
            return None
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    """The worker: batches in, digests out, until its input ends."""
    while (head := _read(source, _HEAD.size)) is not None:
        key_size, count, data_size = _HEAD.unpack(head)
        key, offsets, data = (_read(source, n) for n in (key_size, 8 * (count + 1), data_size))
        if key is None or offsets is None or data is None:
            return
        positions = array("q")
        positions.frombytes(offsets)
        base = positions[0]
        sink.write(macs(key, data, [p - base for p in positions]))
        sink.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
