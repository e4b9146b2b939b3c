"""A bounded, sampled window of served inputs and predictions, kept on disk for drift checks.

Format: JSON lines, one per sampled row: ``{"ts": <unix seconds>, "model_version": "3",
"features": {...}, "output": 0.42}``; the output is what prediction drift watches for the
task (``model/metrics.py``: the positive probability, the predicted class or the value).
The file is compacted to the newest ``max_rows`` rows whenever it grows past twice that, so
it stays bounded without a background job.
``record`` only queues rows: a background thread encodes and appends them once a second, so
the serving path never touches the file; ``flush()`` writes the rest (at shutdown).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from .. import atomic


class PredictionWindow:
    def __init__(self, path: Path, max_rows: int, sample_rate: float, seed: int | None = None):
        self.path = path
        self.max_rows = max_rows
        self.sample_rate = sample_rate
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rows_on_disk: int | None = None
        self._pending: list[tuple[float, str, Sequence[Mapping[str, Any]], Sequence[Any]]] = []
        self._io_lock = threading.RLock()
        self._flusher: threading.Thread | None = None

    def record(
        self, rows: Sequence[Mapping[str, Any]], outputs: Sequence[Any], version: str
    ) -> None:
        """Queue rows for the window; a background thread writes them within a second."""
        if self.sample_rate <= 0:
            return
        with self._lock:
            self._pending.append((time.time(), version, rows, outputs))
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_forever, name="window-flush", daemon=True
                )
                self._flusher.start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(1.0)
            self.flush()

    def flush(self) -> None:
        """Write every queued row now (also called at shutdown)."""
        with self._io_lock:
            with self._lock:
                pending, self._pending = self._pending, []
            sampled = [
                (ts, v, r, p)
                for ts, v, rows, outputs in pending
                for r, p in zip(rows, outputs, strict=True)
                if self.sample_rate >= 1 or self._rng.random() < self.sample_rate
            ]
            # Only the newest max_rows can survive compaction: skip encoding the rest.
            lines = [
                b'{"ts":%s,"model_version":%s,"features":%s,"output":%s}'
                % (orjson.dumps(ts), orjson.dumps(v), orjson.dumps(r), orjson.dumps(p))
                for ts, v, r, p in sampled[-self.max_rows :]
            ]
            if lines:
                self._write(lines)

    def _write(self, lines: list[bytes]) -> None:
        if self._rows_on_disk is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rows_on_disk = len(self.read_lines())
        with self.path.open("ab") as fh:
            fh.write(b"\n".join(lines) + b"\n")
        self._rows_on_disk += len(lines)
        if self._rows_on_disk > 2 * self.max_rows:
            self._compact()

    def read_lines(self) -> list[bytes]:
        self.flush()  # readers in this process see every recorded row
        try:
            return self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []

    def read(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.read_lines() if line.strip()]

    def _compact(self) -> None:
        keep = self.read_lines()[-self.max_rows :]
        atomic.write_bytes(self.path, b"\n".join(keep) + b"\n")
        self._rows_on_disk = len(keep)


def window_files(path: Path) -> list[Path]:
    """The window file; with a glob in its name (replicas sharing a volume, one file each),
    every file that matches."""
    if any(ch in path.name for ch in "*?["):
        return sorted(path.parent.glob(path.name))
    return [path]
