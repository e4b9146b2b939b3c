"""Write docs/questions.md from copier.yml, so the reference never drifts from the prompts.

Usage: python scripts/gen_questions_doc.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "questions.md"

# What each answer changes in the generated project (the prompts' help says what it asks).
EFFECTS = {
    "project_name": "Titles in the README, model card, API title; the default for the slug.",
    "project_slug": "Distribution name and the command-line entry point (`<slug> --help`).",
    "package_name": "The import package under `src/`.",
    "description": "Package docstring, `--help`, pyproject description, model card.",
    "owner": "pyproject authors, model card and sign-off record.",
    "owner_email": "pyproject authors and governance contacts.",
    "python_version": "`requires-python`, ruff and mypy targets, the container's base image.",
    "latency_sla_ms": "`serving.latency_sla_ms`: the load test's p95 assertion and the KPIs.",
    "peak_rps": "`serving.peak_rps`: the load test runs at 10x this rate.",
    "hourly_cost": "`serving.hourly_cost`: cost per 1,000 predictions in load-test reports.",
    "data_sources": (
        "Which sources are enabled and seeded by default, with their modules, settings and"
        " tests. The files source is always generated: `data adopt FILE` reads the file where"
        " it lies."
    ),
    "regulated_domain": "Extra sections and checks in the governance documents.",
    "ci_provider": "`.github/workflows/` or `.gitlab-ci.yml`.",
    "task": "`TASK`, the label and the demo table in `data/schema.py` / `data/synthetic.py`; "
    "metrics, baseline, gate, drift and explanations follow the contract's `TASK`.",
    "model_family": "The default of `model.estimator` (settings); hyperparameters per family "
    "live in `config/*.toml`.",
    "verify": "Run the post-generation verification (false: skip it, e.g. offline).",
}


def render() -> str:
    questions: dict[str, Any] = {
        k: v
        for k, v in yaml.safe_load((ROOT / "copier.yml").read_text()).items()
        if not k.startswith("_") and v.get("when") is not False  # computed, never asked
    }
    lines = [
        "# Questions",
        "",
        "Generated from `copier.yml` by `scripts/gen_questions_doc.py`; do not edit by hand.",
        "Every answer is validated at the prompt; pass answers non-interactively with",
        "`copier copy -d name=value ...`.",
        "",
        "| question | asks | default | choices | what it changes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, q in questions.items():
        choices = q.get("choices")
        if isinstance(choices, dict):
            choice_text = ", ".join(f"`{v}`" for v in choices.values())
        elif isinstance(choices, list):
            choice_text = ", ".join(f"`{v}`" for v in choices)
        else:
            choice_text = ""
        if q.get("multiselect"):
            choice_text += " (several)"
        default = q.get("default", "")
        if "{{" in str(default):
            source = str(default).split("|")[0].strip("{ ")
            default_text = f"derived from `{source}`"
        else:
            default_text = f"`{default}`"
        help_text = str(q.get("help", "")).replace("|", "\\|")
        lines.append(
            f"| `{name}` | {help_text} | {default_text} | {choice_text} | {EFFECTS.get(name, '')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if not DOC.exists() or DOC.read_text() != text:
            print("docs/questions.md is out of date: run python scripts/gen_questions_doc.py")
            return 1
        return 0
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
