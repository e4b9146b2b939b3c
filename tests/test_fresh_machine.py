"""A pilot generated with verify=false, then used through its README alone, on a machine whose
only tool is a `uv` installed by pip: no other uv, no copier, no pyenv on PATH."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import UV, free_port, http, render

pytestmark = pytest.mark.generated

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def quickstart(readme: str) -> list[list[str]]:
    """The commands of the README's first bash block (the quick start), comments dropped."""
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.S)
    assert block, "the README has no quick start block"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line]


def test_readme_quickstart_works_with_only_a_pip_installed_uv(tmp_path: Path) -> None:
    project = render(tmp_path / "churn-pilot", tasks=True, verify=False)
    assert (project / "uv.lock").exists(), "verify=false still locks"
    # The machine's only tool: the uv that `pip install uv` put in a venv's bin (ours).
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "uv").symlink_to(UV)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "PYENV_VERSION"} and not k.startswith("APP_")
    }
    env["PATH"] = f"{tools}{os.pathsep}{SYSTEM_PATH}"
    commands = quickstart((project / "README.md").read_text())
    assert commands[0][:2] == ["uv", "sync"] and commands[-1][-1] == "serve"
    for cmd in commands[:-1]:
        proc = subprocess.run(
            cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert proc.returncode == 0, f"{shlex.join(cmd)}: {proc.stderr[-2000:]}"
    port = free_port()
    server = subprocess.Popen(
        [*commands[-1], "--host", "127.0.0.1", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        status = 0
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, _ = http("GET", base + "/ready")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, "the service did not become ready"
        _, spec = http("GET", base + "/openapi.json")
        example = json.loads(spec)["components"]["schemas"]["Features"]["examples"][0]
        status, text = http("POST", base + "/predict", example)
        assert status == 200, text
        assert json.loads(text)["predictions"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
