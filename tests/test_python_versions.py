"""Generated projects work on Python 3.11 and newer: run a pilot's checks on the newest one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import IN_CI, UV, render, uv_run

pytestmark = [pytest.mark.generated, pytest.mark.slow]


def find_python(version: str) -> str | None:
    """A real interpreter for `version`, in this order:

    1. ``SHIPSHAPE_PYTHON_<major>_<minor>`` (``.ci/run`` sets it to the one it found);
    2. ``python<version>`` on PATH, if it runs (pyenv shims on PATH refuse when not selected);
    3. an interpreter installed by pyenv under ``$PYENV_ROOT`` (default ``~/.pyenv``), found
       by its directory, so pyenv itself need not be on PATH.
    """
    name = f"python{version}"
    candidates = [os.environ.get("SHIPSHAPE_PYTHON_" + version.replace(".", "_"), "")]
    candidates.append(shutil.which(name) or "")
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    installed = sorted((pyenv_root / "versions").glob(f"{version}.*/bin/{name}"))
    candidates += [str(path) for path in installed]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def test_pilot_on_python_313(tmp_path: Path) -> None:
    python = find_python("3.13")
    if python is None:
        message = (
            "no Python 3.13 interpreter: set SHIPSHAPE_PYTHON_3_13, put python3.13 on PATH "
            "or install it with pyenv"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    project = render(tmp_path / "p", python_version="3.13")
    env = {"UV_PYTHON": python, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([UV, "lock", "-q"], cwd=project, check=True, env=os.environ | env)
    uv_run(project, "ruff", "check", ".", env=env)
    uv_run(project, "mypy", env=env)
    out = uv_run(project, "python", "--version", env=env).stdout
    assert out.startswith("Python 3.13")
    tests = uv_run(project, "pytest", "-q", "-x", "-p", "no:cacheprovider", env=env).stdout
    assert " passed" in tests and " failed" not in tests
