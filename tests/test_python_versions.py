"""Generated projects work on Python 3.11 and newer: run a pilot's checks on the newest one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import IN_CI, render, uv_run

pytestmark = [pytest.mark.generated, pytest.mark.slow]


def find_python(version: str) -> str | None:
    """A real interpreter for `version`: on PATH, or installed by pyenv (whose shims refuse)."""
    name = f"python{version}"
    pyenv = shutil.which("pyenv")
    if pyenv:
        for installed in subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split():
            if installed.startswith(version + "."):
                prefix = subprocess.run(
                    [pyenv, "prefix", installed], capture_output=True, text=True, check=False
                ).stdout.strip()
                candidate = Path(prefix) / "bin" / name
                if candidate.exists():
                    return str(candidate)
    found = shutil.which(name)
    if (
        found
        and subprocess.run([found, "--version"], capture_output=True, check=False).returncode == 0
    ):
        return found
    return None


def test_pilot_on_python_313(tmp_path: Path) -> None:
    python = find_python("3.13")
    if python is None:
        message = "no Python 3.13 interpreter on this machine"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    project = render(tmp_path / "p", python_version="3.13")
    env = {"UV_PYTHON": python, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(["uv", "lock", "-q"], cwd=project, check=True, env=os.environ | env)
    uv_run(project, "ruff", "check", ".", env=env)
    uv_run(project, "mypy", env=env)
    out = uv_run(project, "python", "--version", env=env).stdout
    assert out.startswith("Python 3.13")
    tests = uv_run(project, "pytest", "-q", "-x", "-p", "no:cacheprovider", env=env).stdout
    assert " passed" in tests and " failed" not in tests
