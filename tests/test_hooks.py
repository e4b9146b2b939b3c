"""The post-generation verification: skips when asked, and fails with one line naming the step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, render

pytestmark = pytest.mark.generated
HOOK = str(ROOT / "hooks" / "post_gen.py")


def test_verify_false_skips_and_says_so(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    project = render(tmp_path / "p", tasks=True, verify=False)
    out = capfd.readouterr().out
    assert "verify: skipped" in out
    assert (project / "uv.lock").exists(), "the lock is still created when verification is skipped"


def test_env_flag_skips_verification(tmp_path: Path) -> None:
    project = render(tmp_path / "p")
    proc = subprocess.run(
        [sys.executable, HOOK, "--verify=True"],
        cwd=project,
        capture_output=True,
        text=True,
        env=os.environ | {"SHIPSHAPE_SKIP_VERIFY": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "verify: skipped" in proc.stdout


def test_failure_is_one_line_naming_the_step(tmp_path: Path) -> None:
    project = render(tmp_path / "p")
    cli = next((project / "src").glob("*/cli.py"))
    cli.write_text(cli.read_text() + "\nimport os\n")  # an unused, unsorted import: lint fails
    proc = subprocess.run(
        [sys.executable, HOOK, "--verify=True"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 1
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1, proc.stderr
    # lint and format run side by side and both see the planted import: either reports it
    assert errors[0].startswith(
        ("verify: FAILED at step 'lint': ", "verify: FAILED at step 'format': ")
    )
    # the steps before it printed their durations
    assert "verify: lock" in proc.stdout and "verify: install" in proc.stdout
    # lint starts last of the independent checks (longest chain first), so the steps that
    # wait on the whole chain never start after it fails
    assert "verify: governance" not in proc.stdout and "verify: readiness" not in proc.stdout
    assert "pilot verified" not in proc.stdout
    assert (project / "verify.log").read_text().count("$ ") >= 3
