"""Alert rules and dashboard of a generated pilot, rendered with a non-default SLA.

promtool (Debian package prometheus, .ci/setup.d/40-promtool.sh) checks the rules and runs
their unit tests: every alert fires on an unhealthy series and stays quiet on a healthy one.
The pilot's own tests/test_alerts.py compares the metric names with a real /metrics scrape.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import render, require_binary

SLA_MS = 250


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("alerts") / "p", latency_sla_ms=SLA_MS)


def promtool(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tool = require_binary("promtool", "checks the alert rules (Debian package prometheus)")
    return subprocess.run(
        [tool, *args],
        cwd=project / "deploy" / "monitoring",
        capture_output=True,
        text=True,
        check=False,
    )


def test_rules_pass_promtool_and_every_alert_fires_and_stays_quiet(project: Path) -> None:
    check = promtool(project, "check", "rules", "alerts.yaml")
    assert check.returncode == 0, check.stdout + check.stderr
    unit = promtool(project, "test", "rules", "alerts.test.yaml")
    assert unit.returncode == 0, unit.stdout + unit.stderr
    rules = yaml.safe_load((project / "deploy/monitoring/alerts.yaml").read_text())
    by_name = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert set(by_name) == {
        "PilotServiceDown",
        "PilotNotReady",
        "PilotHighErrorRate",
        "PilotLatencyOverSLA",
        "PilotDecisionLogFailing",
        "PilotShadowDisagreement",
        "PilotDrift",
        "PilotModelStale",
        "PilotLiveQualityBreach",
    }
    assert by_name["PilotLatencyOverSLA"]["expr"].rstrip().endswith(f"> {SLA_MS / 1000:g}")
    tests = yaml.safe_load((project / "deploy/monitoring/alerts.test.yaml").read_text())["tests"]
    cases = [c for t in tests for c in t["alert_rule_test"]]
    assert {c["alertname"] for c in cases if c["exp_alerts"]} == set(by_name)


def test_a_broken_rule_is_caught(project: Path, tmp_path: Path) -> None:
    text = (project / "deploy/monitoring/alerts.yaml").read_text()
    broken = project / "deploy/monitoring/broken.yaml"
    broken.write_text(text.replace("== 0", "== == 0", 1))
    try:
        assert promtool(project, "check", "rules", "broken.yaml").returncode != 0
    finally:
        broken.unlink()


def test_dashboard_panels_query_metrics_the_pilot_defines(project: Path) -> None:
    dashboard = json.loads((project / "deploy/monitoring/dashboard.json").read_text())
    src = project / "src" / "churn_pilot"
    service = set(
        re.findall(
            r'(?:Counter|Gauge|Histogram)\(\s*"(\w+)"', (src / "serving/metrics.py").read_text()
        )
    )
    textfile = set(re.findall(r'gauge\(\s*"(\w+)"', (src / "monitoring/drift.py").read_text()))
    textfile |= set(re.findall(r'gauge\(\s*"(\w+)"', (src / "monitoring/live.py").read_text()))
    known = {f"{n}_total" for n in service} | {f"{n}_bucket" for n in service} | service
    known |= {f"pilot_{n}" for n in textfile}
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))
        assert names <= known, f"{expr}: {sorted(names - known)}"
    assert f"{SLA_MS / 1000:g}" in exprs
