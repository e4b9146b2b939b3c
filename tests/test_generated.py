"""Generated tier: a default pilot is generated, verified by its own hook, and its checks pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import uv_run

pytestmark = pytest.mark.generated


def test_default_pilot_is_verified_and_locked(default_project: Path) -> None:
    log = (default_project / "verify.log").read_text()
    assert "shipshape post-generation verification" in log
    assert (default_project / "uv.lock").exists()
    assert (default_project / ".git").is_dir()
    # the hook's own run produced a registered model and seeded data
    assert (default_project / "mlruns" / "mlflow.db").exists()


def test_default_pilot_checks_pass(default_project: Path) -> None:
    uv_run(default_project, "ruff", "check", ".")
    uv_run(default_project, "ruff", "format", "--check", ".")
    out = uv_run(default_project, "pytest", "-q", "-p", "no:cacheprovider").stdout
    assert " passed" in out and " failed" not in out


def test_cli_errors_are_one_line(default_project: Path) -> None:
    proc = uv_run(
        default_project,
        "churn-pilot",
        "ingest",
        check=False,
        env={"APP_DATA__TABLE": "missing_table"},
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: source sqlite:///"
        + str(default_project / "data" / "pilot.db")
        + "#missing_table: table 'missing_table' does not exist"
    ]
