"""Generated CI/CD, linted offline against the GitHub Actions and GitLab CI schemas.

check-jsonschema (pinned in requirements-dev.txt) carries both schemas; no network is needed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import render, require_binary, uv_run

# The pipeline calls these: data (issue 3), model (4), serving (5), readiness (7), settings.
PIPELINE_COMMANDS = [
    "uv lock --check",
    "data check",
    " train",
    " evaluate",
    "pytest -m fuzz",
    " loadtest",
    " ready",
    "promote --to staging",
    "promote --to production",
    "config check --env prod",
    "deploy/k8s/deploy.sh staging",
    "deploy/k8s/deploy.sh prod",
    "promtool check rules deploy/monitoring/alerts.yaml",
    "promtool test rules deploy/monitoring/alerts.test.yaml",
    "pytest -m spark",
    " score --input",
]


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return require_binary(name, "pip install -r requirements-dev.txt")


def lint(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("gh") / "p", ci_provider="github")


@pytest.fixture(scope="module")
def gitlab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("gl") / "p", ci_provider="gitlab")


def test_each_provider_gets_only_its_own_pipeline(github: Path, gitlab: Path) -> None:
    assert (github / ".github" / "workflows" / "ci.yml").is_file()
    assert not (github / ".gitlab-ci.yml").exists()
    assert not [p for p in (github / ".gitlab").rglob("*") if p.is_file()]
    assert (gitlab / ".gitlab-ci.yml").is_file()
    assert (gitlab / ".gitlab" / "ci" / "deploy.yml").is_file()
    assert not [p for p in (gitlab / ".github").rglob("*") if p.is_file()]


def test_github_workflows_lint_clean(github: Path) -> None:
    workflows = sorted((github / ".github" / "workflows").glob("*.yml"))
    assert workflows
    proc = lint("vendor.github-workflows", *workflows)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gitlab_pipeline_lints_clean(gitlab: Path) -> None:
    files = [gitlab / ".gitlab-ci.yml", *sorted((gitlab / ".gitlab" / "ci").glob("*.yml"))]
    proc = lint("vendor.gitlab-ci", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_linter_catches_mistakes(github: Path, tmp_path: Path) -> None:
    workflow = yaml.safe_load((github / ".github" / "workflows" / "ci.yml").read_text())
    del workflow["jobs"]["checks"]["runs-on"]
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(workflow))
    assert lint("vendor.github-workflows", broken).returncode != 0


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_pipeline_runs_every_stage(provider: str, github: Path, gitlab: Path) -> None:
    project = github if provider == "github" else gitlab
    files = (
        (project / ".github").rglob("*.yml")
        if provider == "github"
        else [project / ".gitlab-ci.yml", *(project / ".gitlab").rglob("*.yml")]
    )
    text = "\n".join(f.read_text() for f in files)
    missing = [c for c in PIPELINE_COMMANDS if c not in text]
    assert not missing, missing
    assert "trivy" in text  # image vulnerability scan


def test_batch_can_be_dispatched_with_its_reason_and_batch_id(github: Path, gitlab: Path) -> None:
    workflow = yaml.safe_load((github / ".github" / "workflows" / "batch.yml").read_text())
    inputs = workflow[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads `on` as True
    assert {"input", "output", "batch-id", "reason", "engine", "environment"} <= set(inputs)
    assert inputs["reason"]["required"] is True
    (job,) = workflow["jobs"].values()
    assert job["env"]["REASON"] == "${{ inputs.reason }}"  # as a variable, never in the script
    assert all("${{" not in step.get("run", "") for step in job["steps"])
    batch = yaml.safe_load((gitlab / ".gitlab" / "ci" / "batch.yml").read_text())["batch"]
    assert batch["rules"] == [{"if": "$BATCH_REASON && $BATCH_ID"}]
    assert "var/batches/" in batch["artifacts"]["paths"]


def jobs(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())["jobs"]


def test_github_production_needs_approval_and_the_staging_digest(github: Path) -> None:
    j = jobs(github)
    staging, prod = j["deploy-staging"], j["deploy-production"]
    assert "refs/heads/main" in staging["if"]  # staging: automatically, from main only
    assert staging["environment"]["name"] == "staging"
    assert "deploy-staging" in prod["needs"]  # after staging validated...
    assert prod["environment"]["name"] == "production"  # ...behind required reviewers
    # the same image, by digest, in both
    assert staging["env"]["REF"] == prod["env"]["REF"]
    assert "needs.image.outputs.digest" in prod["env"]["REF"]
    assert "validated-digest" in yaml.safe_dump(prod)


def test_gitlab_production_is_manual_and_includes_local_files(gitlab: Path) -> None:
    pipeline = yaml.safe_load((gitlab / ".gitlab-ci.yml").read_text())
    assert {"local": ".gitlab/ci/*.yml"} in pipeline["include"]
    deploy = yaml.safe_load((gitlab / ".gitlab" / "ci" / "deploy.yml").read_text())
    prod = deploy["deploy-production"]
    assert prod["rules"][0]["when"] == "manual" and prod["allow_failure"] is False
    assert "deploy-staging" in prod["needs"]
    assert prod["environment"]["name"] == "production"


@pytest.mark.generated
def test_pre_commit_passes_on_day_one(default_project: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=default_project, check=True)
    proc = uv_run(
        default_project,
        "pre-commit",
        "run",
        "--all-files",
        check=False,
        env={"PRE_COMMIT_HOME": str(default_project.parent / "pre-commit-home")},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Passed" in proc.stdout
