"""Run the real service as a subprocess on 127.0.0.1: for the load test, fuzzing and tests.

The child gets the given settings through ``APP_*`` environment variables, so it serves
exactly what the caller configured (a test's temporary stores, a load test's fresh key).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx

from ..errors import PilotError
from ..settings import PROJECT_ROOT, Settings
from .auth import hash_key, new_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings) -> dict[str, str]:
    """``APP_*`` variables that reproduce these settings in a child process."""
    env = {"APP_ROOT": str(PROJECT_ROOT)}
    for name, value in settings.model_dump(mode="json").items():
        if not isinstance(value, dict):
            env[f"APP_{name}".upper()] = str(value)
            continue
        for field, item in value.items():
            if item is not None:
                text = json.dumps(item) if isinstance(item, dict | list) else str(item)
                env[f"APP_{name}__{field}".upper()] = text
    return env


def with_key(settings: Settings, key_id: str, roles: str) -> tuple[Settings, str]:
    """A copy of the settings with one more API key; returns it and the key."""
    key = new_key()
    entry = f"{key_id}:{roles}:{hash_key(key)}"
    serving = settings.serving.model_copy(
        update={"api_keys": f"{settings.serving.api_keys} {entry}".strip()}
    )
    return settings.model_copy(update={"serving": serving}), key


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """GET on the local service: (status, body); connection errors raise OSError."""
    try:
        resp = httpx.get(url, timeout=timeout)
    except httpx.TransportError as exc:
        raise OSError(str(exc)) from exc
    return resp.status_code, resp.content


class ServerStartError(PilotError):
    """The service did not become ready."""


@contextmanager
def running(
    settings: Settings, log: IO[Any] | None = None, ready_timeout: float = 90
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``serve`` on a free loopback port, wait until /ready, stop it (SIGTERM) after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env |= settings_env(settings)
    command = [sys.executable, "-m", __name__.split(".")[0], "serve"]
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and package
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        env=env,
        cwd=Path.cwd(),
    )
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise ServerStartError(f"serve exited with code {proc.returncode} before ready")
            try:
                status, body = get(base + "/ready", timeout=2)
            except OSError:
                status, body = 0, b"not listening"
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise ServerStartError(f"not ready after {ready_timeout:.0f} s: {body[:200]!r}")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
