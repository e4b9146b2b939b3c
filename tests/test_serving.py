"""The generated service proves itself: fuzzing, kill -9 under load, and the SLA load test.

Runs the generated project's own entry points, as its CI does: `pytest -m fuzz`,
`pytest -m load` and `<slug> loadtest`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import uv_run

pytestmark = [pytest.mark.generated, pytest.mark.slow]


def test_fuzz_tier_finds_no_server_error(default_project: Path) -> None:
    out = uv_run(default_project, "pytest", "-m", "fuzz", "-q", "-p", "no:cacheprovider").stdout
    assert "1 passed" in out, out[-2000:]


def test_load_tier_kill_under_load_and_sla(default_project: Path) -> None:
    out = uv_run(default_project, "pytest", "-m", "load", "-q", "-p", "no:cacheprovider").stdout
    assert "3 passed" in out, out[-2000:]  # kill under load, kill mid-batch, the SLA


def test_loadtest_command_writes_a_passing_report(default_project: Path) -> None:
    proc = uv_run(default_project, "churn-pilot", "loadtest", "--duration", "10", "--capacity", "5")
    assert "USD per 1,000 predictions" in proc.stdout
    report = json.loads((default_project / "reports" / "loadtest.json").read_text())
    assert report["passed"] is True, report["problems"]
    assert report["target_rps"] == 50  # 10x the default peak of 5 requests/s
    assert report["decision_records"] == report["successful_predictions"] > 0
    assert (default_project / "reports" / "loadtest.md").exists()


def test_audit_finds_the_verified_prediction(default_project: Path) -> None:
    # The post-generation verification made one prediction: it is in the decision log.
    proc = uv_run(default_project, "churn-pilot", "audit", "--since", "2000-01-01", "--limit", "1")
    record = json.loads(proc.stdout.strip().splitlines()[0])
    assert record["model_name"] == "churn_pilot" and record["model_version"]
    assert set(record) >= {"request_id", "ts", "key_id", "inputs", "output", "explanation"}


def test_serve_refuses_prod_without_keys(default_project: Path) -> None:
    proc = uv_run(default_project, "churn-pilot", "serve", check=False, env={"APP_ENV": "prod"})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert any(line.startswith("prod: no API keys configured for prod") for line in lines)
    assert lines[-1].startswith("error: ") and "Traceback" not in proc.stderr
