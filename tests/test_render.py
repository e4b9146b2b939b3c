"""Quick tier: render the template over a matrix of answers and check the output."""

from __future__ import annotations

import ast
import itertools
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier.errors import CopierError

from .conftest import ROOT, render

SOURCES = ["sql", "files", "http"]
MATRIX: list[dict[str, Any]] = [
    {},
    {
        "project_name": "Fraud Scoring Service",
        "python_version": "3.12",
        "regulated_domain": "finance",
        "ci_provider": "gitlab",
        "data_sources": ["sql", "files", "http"],
    },
    {
        "project_name": "A very long pilot name to check the line lengths generated",
        "python_version": "3.13",
        "regulated_domain": "health",
        "data_sources": ["files"],
    },
    {
        "project_name": "hr-attrition",
        "regulated_domain": "hr",
        "data_sources": ["http"],
        "latency_sla_ms": 250,
        "peak_rps": 0.5,
        "hourly_cost": 1.75,
    },
    {
        "project_name": "Contract Review",
        "regulated_domain": "legal",
        "data_sources": ["sql", "http"],
    },
]
# every task with every model family: the contract, demo table and default estimator change
TASKS = ["binary", "multiclass", "regression"]
FAMILIES = ["linear", "gradient_boosting", "random_forest"]
MATRIX += [
    {"task": task, "model_family": family, "project_name": f"{task} {family}"}
    for task, family in itertools.product(TASKS, FAMILIES)
    if (task, family) != ("binary", "linear")  # the defaults, first in MATRIX
]
# every subset of sources, each paired once with the other axes cycled
MATRIX += [
    {"data_sources": list(combo), "project_name": f"Pilot {i}"}
    for i, combo in enumerate(c for r in range(1, 4) for c in itertools.combinations(SOURCES, r))
]


def files_of(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "answers",
    MATRIX,
    ids=lambda a: (
        "-".join(f"{k}={v}" for k, v in sorted(a.items()) if k != "project_name") or "defaults"
    ),
)
def test_render_matrix(tmp_path: Path, answers: dict[str, Any]) -> None:
    project = render(tmp_path / "p", **answers)
    files = files_of(project)
    assert "pyproject.toml" in files and ".copier-answers.yml" in files
    for rel in files:
        path = project / rel
        text = path.read_text(errors="replace")
        for marker in ("{{", "{%", "{#"):
            # Jinja's own GitHub-expression syntax `${{` is the one allowed use.
            leftovers = [ln for ln in text.splitlines() if marker in ln and "${{" not in ln]
            assert not leftovers, f"{rel}: un-rendered {marker}: {leftovers[:2]}"
        if rel.endswith(".py"):
            ast.parse(text, filename=rel)
        elif rel.endswith(".toml"):
            tomllib.loads(text)
        elif rel.endswith((".yml", ".yaml")):
            list(yaml.safe_load_all(text))
    # Generated code is lint- and format-clean for every answer set (e.g. a 58-character name).
    for ruff_args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *ruff_args],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"ruff {ruff_args[0]}:\n{proc.stdout[-3000:]}"
    answers_file = yaml.safe_load((project / ".copier-answers.yml").read_text())
    for key, value in answers.items():
        assert answers_file[key] == value


def test_default_file_set(tmp_path: Path) -> None:
    """The exact set of files a default pilot gets (update this list deliberately)."""
    project = render(tmp_path / "p")
    expected = set((ROOT / "tests" / "expected_files.txt").read_text().split())
    assert files_of(project) == expected


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_slug": "my pilot"}, "project_slug"),
        ({"project_slug": "My-Pilot"}, "project_slug"),
        ({"package_name": "class"}, "keyword"),
        ({"package_name": "my-pkg"}, "package_name"),
        ({"latency_sla_ms": 0}, "latency_sla_ms"),
        ({"latency_sla_ms": -5}, "latency_sla_ms"),
        ({"peak_rps": 0}, "peak_rps"),
        ({"hourly_cost": -1}, "hourly_cost"),
        ({"owner_email": "nobody"}, "owner_email"),
        ({"description": 'say "hi"'}, "description"),
        ({"data_sources": []}, "data_sources"),
    ],
)
def test_prompts_reject_bad_answers(tmp_path: Path, answers: dict[str, Any], message: str) -> None:
    with pytest.raises((ValueError, CopierError)) as err:
        render(tmp_path / "p", **answers)
    assert message in str(err.value)


@pytest.mark.parametrize("task", TASKS)
def test_task_and_family_reach_the_contract_and_settings(tmp_path: Path, task: str) -> None:
    """The task is one constant in the contract; the family only a settings default."""
    family = FAMILIES[TASKS.index(task)]
    project = render(tmp_path / "p", task=task, model_family=family)
    src = project / "src" / "churn_pilot"
    schema = (src / "data" / "schema.py").read_text()
    assert f'TASK: Literal["binary", "multiclass", "regression"] = "{task}"' in schema
    assert "class PilotSchema(pa.DataFrameModel):" in schema
    assert f'estimator: Estimator = "{family}"' in (src / "settings.py").read_text()
    # everything else reads the task from the contract: no per-task Jinja outside it
    jinja_task = re.compile(r"\{[{%][^}]*\b(task|model_family)\b")
    for path in (ROOT / "template").rglob("*.jinja"):
        if path.name != "schema.py.jinja" and path.name != "settings.py.jinja":
            assert not jinja_task.search(path.read_text()), path
