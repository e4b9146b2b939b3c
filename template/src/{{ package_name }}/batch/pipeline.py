"""A small thread pipeline: each stage runs its iterator in a thread, a bounded queue ahead.

Reading (Arrow), scoring (numpy, LightGBM) and writing (Parquet) release the GIL, so on two
cores they overlap. A queue holds at most ``depth`` items, so memory stays bounded by a few
chunks whatever the input size; items keep their order. An exception in a stage (any
``BaseException``) is raised again, the same object, where the next stage reads from it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

_END = object()
_POLL = 0.1  # seconds between checks that the consumer still wants items


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Stage:
    """``items`` produced in a thread; iterate the stage to consume them, in order."""

    def __init__(self, items: Iterable[Any], depth: int = 2) -> None:
        self._items = items
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        items = iter(self._items)
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's cleanup (a connection, a file) runs in its own thread

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return  # stopped early (the pipeline is closing)
                continue
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item


@contextlib.contextmanager
def staged(*stages: Stage) -> Iterator[None]:
    """Run the stages for the duration of the block; on leaving, stop them all."""
    for stage in stages:
        stage.start()
    try:
        yield
    finally:
        for stage in reversed(stages):
            stage.stop()
