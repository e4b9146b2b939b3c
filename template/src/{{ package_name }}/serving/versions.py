"""Where the service gets model versions: from a registry child process, or in process.

``RegistryChild`` (what ``serve`` uses) talks to ``model/fetch.py`` in a child process and
loads each downloaded pipeline without importing MLflow, so the start overlaps MLflow's
imports with the web stack's and alias checks never take the serving process's CPU.
``InProcess`` asks the registry directly (an app built in a test, several workers).
Both answer ``latest(alias, known)``: the version and its pipeline, or None when the alias
still points at ``known``; a failure raises with a one-line reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Protocol

from ..model import fetch
from ..model.registry import (
    ModelRef,
    RegistryError,
    import_loader,
    load_downloaded,
    load_pipeline,
    resolve_alias,
)
from ..settings import Settings

Latest = tuple[ModelRef, Any] | None


class VersionSource(Protocol):
    def latest(self, alias: str, known: str | None) -> Latest: ...

    def close(self) -> None: ...


class InProcess:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def latest(self, alias: str, known: str | None) -> Latest:
        ref = resolve_alias(self.settings, alias)
        return None if ref.version == known else (ref, load_pipeline(self.settings, ref))

    def close(self) -> None:
        pass


class RegistryChild:
    """The registry child, asked one question at a time; restarted once if it died."""

    def __init__(self, settings: Settings, aliases: list[str], timeout_s: float = 120) -> None:
        from .server import settings_env

        self._env = os.environ | settings_env(settings)
        self._timeout = timeout_s
        self.directory = Path(tempfile.mkdtemp(prefix="model-versions-"))
        self._lock = threading.Lock()
        self._proc = self._spawn()
        self._early: list[str] = []  # asked at start, answers not read yet (in order)
        self._answers: dict[str, dict[str, Any]] = {}
        for alias in aliases:  # asked now: the child answers while the service imports
            self._send({"alias": alias, "known": None})
            self._early.append(alias)
        import_loader()  # meanwhile

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _spawn(self) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and package
            [sys.executable, "-m", fetch.__name__, str(self.directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self._env,
            text=True,
        )

    def _send(self, request: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self._proc.stdout
        assert out is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(out.readline()), daemon=True)
        reader.start()
        reader.join(self._timeout)
        if not line or not line[0]:
            raise RegistryError(f"the registry child gave no answer in {self._timeout:g} s")
        answer: dict[str, Any] = json.loads(line[0])
        return answer

    def _ask(self, alias: str, known: str | None) -> dict[str, Any]:
        try:
            while self._early:  # the answers to the start's questions come first, in order
                self._answers[self._early.pop(0)] = self._read()
            if known is None and alias in self._answers:
                return self._answers.pop(alias)
        except (OSError, ValueError, RegistryError):
            self._restart()
        for attempt in (1, 2):
            try:
                self._send({"alias": alias, "known": known})
                return self._read()
            except (OSError, ValueError, RegistryError):
                if attempt == 2:
                    raise
                self._restart()
        raise AssertionError("unreachable")

    def _restart(self) -> None:
        self._stop_child()
        self._early.clear()
        self._answers.clear()
        self._proc = self._spawn()

    def latest(self, alias: str, known: str | None) -> Latest:
        with self._lock:
            answer = self._ask(alias, known)
        if "error" in answer:
            raise RegistryError(str(answer["error"]))
        if answer.get("same"):
            return None
        path = Path(answer["path"])
        try:
            return ModelRef(**answer["ref"]), load_downloaded(path)
        finally:
            shutil.rmtree(path, ignore_errors=True)  # the pipeline is in memory now

    def _stop_child(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def close(self) -> None:
        with self._lock:
            self._stop_child()
        shutil.rmtree(self.directory, ignore_errors=True)
