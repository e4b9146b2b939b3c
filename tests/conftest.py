"""Fixtures for the template's own tests: generate real projects from this checkout.

Quick tier: `render()` renders without running tasks (seconds). Generated tier: `generate()`
runs the real post-generation verification (lock, install, lint, tests, train, serve).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import copier
import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The tools requirements-dev.txt installs (uv, copier, hadolint, ...) live beside the running
# interpreter, which need not be on PATH (`.venv/bin/python -m pytest`). Put that directory
# first, so the tests, copier's tasks and every child process find the versions pinned there.
VENV_BIN = Path(sys.executable).parent
if os.environ.get("PATH", "").split(os.pathsep)[0] != str(VENV_BIN):
    os.environ["PATH"] = os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])


def tool(name: str) -> str:
    """Absolute path of a tool installed beside this interpreter (or on PATH)."""
    beside = VENV_BIN / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed beside {sys.executable} nor on PATH")
    return found


UV = tool("uv")


# One prediction request every test that serves a pilot can send.
SAMPLE_ROW = {
    "age": 42,
    "tenure_months": 3,
    "monthly_spend": 120.0,
    "support_tickets": 5,
    "plan": "basic",
    "region": "south",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None, timeout: float = 10) -> tuple[int, str]:
    """A JSON request to a server on loopback: (status, body text), errors included."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def require_binary(name: str, why: str) -> str:
    """The binary's path; skip (on a laptop) or fail (under CI=true) when it is missing."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found: {why} (.ci/run installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def render(dst: Path, tasks: bool = False, **answers: Any) -> Path:
    """Render the template into dst with the given answers (defaults for the rest)."""
    answers.setdefault("verify", False)
    copier.run_copy(
        str(ROOT),
        dst,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=not tasks,
        vcs_ref="HEAD",
    )
    return dst


def generate(dst: Path, **answers: Any) -> Path:
    """Generate and verify a project for real (the copier task runs the whole verification)."""
    answers.setdefault("verify", True)
    return render(dst, tasks=True, **answers)


def uv_run(
    project: Path,
    *args: str,
    timeout: float = 900,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command inside a generated project's locked environment."""
    full_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | (env or {})
    proc = subprocess.run(
        [UV, "run", "-q", "--locked", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )
    if check and proc.returncode != 0:
        output = f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        raise AssertionError(f"`{' '.join(args)}` exited {proc.returncode}\n{output}")
    return proc


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One project generated with default answers and verified, shared by generated-tier tests."""
    yield generate(tmp_path_factory.mktemp("default") / "churn-pilot")


# One generated pilot per other task, each with another model family, so every task and every
# family runs its full verification (lint, types, the pilot's own suite, train, gate, serve).
TASK_PILOTS = {"multiclass": "gradient_boosting", "regression": "random_forest"}


@pytest.fixture(scope="session", params=sorted(TASK_PILOTS))
def task_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    task = request.param
    dst = tmp_path_factory.mktemp(task) / f"{task}-pilot"
    return generate(dst, task=task, model_family=TASK_PILOTS[task], project_name="Churn Pilot")
