"""Progress of a batch: a live line (rows, rows/s, ETA) on a terminal, a log line otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int | None, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream = total, stream
        self.live = stream.isatty()
        self.started = time.perf_counter()
        self.rows = 0

    def update(self, chunk: int, rows: int, skipped: bool = False) -> None:
        self.rows += rows
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.rows / elapsed
        eta = ""
        if self.total:
            left = max(self.total - self.rows, 0) / rate if rate else 0.0
            eta = f", {self.rows / self.total:.0%}, ETA {left:.0f} s"
        what = "resumed past" if skipped else "scored"
        line = f"chunk {chunk}: {what} {rows} rows; {self.rows} rows, {rate:,.0f} rows/s{eta}"
        if self.live:
            self.stream.write("\r" + line.ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
