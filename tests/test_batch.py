"""Generated tier: the pilot's Spark tests run, with the optional `spark` group installed.

The default environment of a pilot does not carry PySpark (~480 MB); this installs the group
into the shared default pilot and runs its `spark`-marked tests on local Spark (`local[2]`),
which compare the Spark engine with the local engine: batch scoring (`score --engine spark`)
and ingest (`ingest --engine spark`). CI=true is passed through, so the test
fails, never skips, if PySpark or Java is missing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import IN_CI, UV, require_binary, uv_run

pytestmark = pytest.mark.generated


def test_pilot_spark_batch_test_passes_with_the_spark_group(default_project: Path) -> None:
    require_binary("java", "Spark needs Java 17")
    env = {"CI": "true"} if IN_CI else {}
    try:
        run_spark_test(default_project, env)
    finally:  # the shared pilot goes back to its default environment (an exact sync)
        clean = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        subprocess.run(
            [UV, "sync", "-q", "--locked"], cwd=default_project, env=clean, check=True, timeout=600
        )


def run_spark_test(default_project: Path, env: dict[str, str]) -> None:
    proc = uv_run(
        default_project,
        "--group",
        "spark",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "spark",
        "tests/test_batch.py",
        "tests/test_real_inputs.py",
        env=env | {"PATH": os.environ["PATH"]},
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "2 passed" in proc.stdout and "skipped" not in proc.stdout, out[-2000:]
